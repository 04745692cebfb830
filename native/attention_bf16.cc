// Fused multi-head self-attention over a bfloat16 qkv projection (what a ViT block computes
// under bf16 autocast), forward and backward, on AVX-512 BF16 (vdpbf16ps).
//
// Composed from ATen ops, bf16 attention costs per block: the permute copy of q, k and v, the
// scale pass, a batched oneDNN GEMM whose scores go to memory in bf16 and come back through a
// separate softmax, the second GEMM, the output transpose copy, and in backward their mirrors.
// At the bench ViT's size (64 x 65 tokens, 3 heads of 64) that is about 8 ms forward and
// backward per block, while its GEMMs are 0.6 GFLOP (under 2 ms at this CPU's bf16 rate).
// Here each (batch, head) pair is one task of one parallel loop: it reads Q, K and V in place
// (row stride 3C), packs the few operands a GEMM needs in bf16 pairs, multiplies with a small
// register-blocked vdpbf16ps kernel (65 x 64 matrices are too small for a library GEMM's own
// packing to pay off), keeps its scores and softmax in float32 in cache, and writes its output
// and gradients in place.
//
// Numerics: bf16 products accumulate in float32, as oneDNN's bf16 GEMM does. The scores are not
// rounded to bf16 before the softmax (the composed path rounds them), and neither is dP in
// backward. The probabilities are kept in bf16 for backward and for P V, as the composed path
// keeps its bf16 softmax output. Tests compare both paths with float64.
//
// Needs AVX-512 BF16 and an even head size; otherwise (and with PFT_FUSED_ATTENTION=0) bf16
// attention is composed (native/attention.cc).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "avx512.h"
#include "engine.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace pft {

namespace {

#define PFT_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

using Bits = uint16_t;  // a bfloat16 as its bits
using Dim = int64_t;

bool CpuHasAvx512Bf16() { return CpuHasAvx512() && __builtin_cpu_supports("avx512bf16"); }

inline Dim RoundUp(Dim n, Dim m) { return (n + m - 1) / m * m; }

// --- The GEMM: C[M x cols] (float32) = A[M x K] (bf16) * B[K x cols] (bf16) ---------------------
//
// vdpbf16ps multiplies pairs: lane j of the result gains a[0] * b[0][j] + a[1] * b[1][j]. So A is
// read a pair of K-consecutive elements at a time (broadcast), and B is packed as K/2 rows of
// `ldb` 32-bit pairs (B[2p][j], B[2p+1][j]), ldb a multiple of 16 with zero columns past `cols`.
// K odd: A's rows carry one zero element past K and B one zero row (the packers below).

// Where A's pairs are: pair p of row r is the 32 bits at base[r * row + p * pair]. A row-major
// bf16 A (even row stride) has row = lda / 2, pair = 1; an A^T packed by PackRows has row = 1.
struct PairsOf {
  const uint32_t* base;
  Dim row, pair;
  static PairsOf Rows(const Bits* a, Dim lda) { return {reinterpret_cast<const uint32_t*>(a), lda / 2, 1}; }
  static PairsOf Packed(const uint32_t* a, Dim ld) { return {a, 1, ld}; }
  PairsOf Down(Dim rows) const { return {base + rows * row, row, pair}; }
};

// An R x (16 V) block of C: R * V accumulators stay in registers through the K loop.
template <int R, int V>
PFT_BF16 void Tile(PairsOf a, const uint32_t* b, Dim ldb, Dim pairs, float* c, Dim ldc) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (Dim p = 0; p < pairs; ++p) {
    __m512bh bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + p * ldb + 16 * v);
    const uint32_t* ap = a.base + p * a.pair;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int32_t>(ap[r * a.row]));
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

// The last rows < R of a column block, one tile of exactly that many rows.
template <int R, int V>
PFT_BF16 void TailTile(Dim rows, PairsOf a, const uint32_t* b, Dim ldb, Dim pairs, float* c, Dim ldc) {
  if constexpr (R > 0) {
    if (rows == R) return Tile<R, V>(a, b, ldb, pairs, c, ldc);
    TailTile<R - 1, V>(rows, a, b, ldb, pairs, c, ldc);
  }
}

// All M rows of one block of 16 V columns; R rows per tile keep R * V <= 24 accumulators.
template <int V>
PFT_BF16 void ColumnBlock(Dim M, PairsOf a, const uint32_t* b, Dim ldb, Dim pairs, float* c, Dim ldc) {
  constexpr int R = V == 4 ? 6 : V == 3 ? 8 : V == 2 ? 12 : 16;
  Dim i = 0;
  for (; i + R <= M; i += R) Tile<R, V>(a.Down(i), b, ldb, pairs, c + i * ldc, ldc);
  TailTile<R - 1, V>(M - i, a.Down(i), b, ldb, pairs, c + i * ldc, ldc);
}

// C (ldc >= ldb) = A * B over all ldb packed columns, in blocks of up to 64.
PFT_BF16 void Gemm(Dim M, PairsOf a, const uint32_t* b, Dim ldb, Dim pairs, float* c, Dim ldc) {
  for (Dim j = 0; j < ldb; j += 64) {
    switch (std::min<Dim>(4, (ldb - j) / 16)) {
      case 4: ColumnBlock<4>(M, a, b + j, ldb, pairs, c + j, ldc); break;
      case 3: ColumnBlock<3>(M, a, b + j, ldb, pairs, c + j, ldc); break;
      case 2: ColumnBlock<2>(M, a, b + j, ldb, pairs, c + j, ldc); break;
      default: ColumnBlock<1>(M, a, b + j, ldb, pairs, c + j, ldc); break;
    }
  }
}

// B = src (rows x cols, row stride lds) packed for Gemm: pair p holds rows 2p and 2p + 1
// (a zero row past an odd count), interleaved element by element (one vpermw per 16 pairs).
PFT_BF16 void PackRows(const Bits* src, Dim lds, Dim rows, Dim cols, uint32_t* b, Dim ldb) {
  alignas(64) static const uint16_t kInterleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i order = _mm512_load_si512(kInterleave);
  for (Dim p = 0; 2 * p < rows; ++p) {
    const Bits* r0 = src + 2 * p * lds;
    const Bits* r1 = 2 * p + 1 < rows ? r0 + lds : nullptr;
    for (Dim j = 0; j < ldb; j += 16) {
      const __mmask16 m = Lanes(cols - j);
      const __m256i lo = _mm256_maskz_loadu_epi16(m, r0 + j);
      const __m256i hi = r1 ? _mm256_maskz_loadu_epi16(m, r1 + j) : _mm256_setzero_si256();
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      _mm512_storeu_si512(b + p * ldb + j, _mm512_permutexvar_epi16(order, both));
    }
  }
}

// r[i] becomes column i of the 16 x 16 matrix of 32-bit words whose rows were r[0..15].
PFT_BF16 inline void Transpose16x16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 16; i += 8) {
    for (int k = 0; k < 4; ++k) {
      t[i + k] = _mm512_shuffle_i32x4(r[i + k], r[i + k + 4], 0x88);
      t[i + k + 4] = _mm512_shuffle_i32x4(r[i + k], r[i + k + 4], 0xdd);
    }
  }
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_i32x4(t[k], t[k + 8], 0x88);
    r[k + 8] = _mm512_shuffle_i32x4(t[k], t[k + 8], 0xdd);
  }
}

// B = src^T packed for Gemm, src being rows x (2 * pairs) with row stride lds (K^T for the scores,
// V^T for dP): pair p of column j is the 32 bits at src[j][2p], so this is a transpose of 32-bit
// words, 16 x 16 at a time, with zero columns from `rows` to ldb.
PFT_BF16 void PackTransposed(const Bits* src, Dim lds, Dim rows, Dim pairs, uint32_t* b, Dim ldb) {
  for (Dim j0 = 0; j0 < ldb; j0 += 16) {
    for (Dim p0 = 0; p0 < pairs; p0 += 16) {
      const __mmask16 m = Lanes(pairs - p0);
      __m512i r[16];
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k) r[k] = j0 + k < rows ? _mm512_maskz_loadu_epi32(m, src + (j0 + k) * lds + 2 * p0) : _mm512_setzero_si512();
      Transpose16x16(r);
      for (Dim k = 0; k < 16 && p0 + k < pairs; ++k) _mm512_storeu_si512(b + (p0 + k) * ldb + j0, r[k]);
    }
  }
}

// rows x cols of float32 c (stride ldc) rounded into bf16 dst (stride ldd).
PFT_BF16 void StoreRows(const float* c, Dim ldc, Dim rows, Dim cols, Bits* dst, Dim ldd) {
  for (Dim i = 0; i < rows; ++i)
    for (Dim j = 0; j < cols; j += 16) StoreBf16(dst + i * ldd + j, _mm512_loadu_ps(c + i * ldc + j), Lanes(cols - j));
}

// Asks for `rows` rows of `width` bf16 elements (stride `ld`) to be brought into L2 while this
// task computes: the next task's Q, K and V are 128-byte pieces of rows 1152 bytes apart, a
// pattern the hardware prefetchers do not follow well (without this, most of the kernel's time
// went to the first loads of each K and V).
inline void Prefetch(const Bits* base, Dim rows, Dim ld, Dim width) {
  for (Dim i = 0; i < rows; ++i)
    for (Dim j = 0; j < width; j += 32) _mm_prefetch(reinterpret_cast<const char*>(base + i * ld + j), _MM_HINT_T1);
}

struct Shape {
  Dim B, N, H, D, C;
  Dim np2() const { return RoundUp(N, 2); }   // a bf16 row over tokens, as a GEMM's A (K = tokens)
  Dim nc() const { return RoundUp(N, 16); }   // packed columns over tokens
  Dim dc() const { return RoundUp(D, 16); }   // packed columns over the head size
};

// The next (batch, head) task's Q, K and V, if there is one (returns whether there is).
bool PrefetchNextQkv(const Shape& s, Dim bh, const Bits* qkv) {
  if (bh + 1 >= s.B * s.H) return false;
  const Dim nb = (bh + 1) / s.H, nh = (bh + 1) % s.H;
  for (Dim part = 0; part < 3; ++part) Prefetch(qkv + nb * s.N * 3 * s.C + part * s.C + nh * s.D, s.N, 3 * s.C, s.D);
  return true;
}

// Per-thread scratch for one (batch, head) task.
struct Scratch {
  std::vector<uint32_t> packed;
  std::vector<float> c;
  std::vector<Bits> a;       // dS, N x np2
  std::vector<uint32_t> at;  // P^T or dS^T as a GEMM's A, packed by PackRows: np2 / 2 x nc
  explicit Scratch(const Shape& s)
      : packed(static_cast<size_t>(std::max(s.D / 2 * s.nc(), s.np2() / 2 * s.dc()))),
        c(static_cast<size_t>(s.N * std::max(s.nc(), s.dc()))),
        a(static_cast<size_t>(s.N * s.np2())),
        at(static_cast<size_t>(s.np2() / 2 * s.nc())) {}
};

// One (batch, head): probs (N x np2 bf16, its pad column zero) = softmax(scale Q K^T), kept for
// backward, and the output's columns of this head = probs V.
PFT_BF16 void ForwardTask(const Shape& s, Dim bh, float scale, const Bits* qkv, Bits* out, Bits* probs, Scratch& w) {
  const Dim N = s.N, D = s.D, C = s.C, ld3 = 3 * C, np2 = s.np2(), nc = s.nc(), dc = s.dc();
  const Dim b = bh / s.H, h = bh % s.H;
  const Bits* q = qkv + b * N * ld3 + h * D;
  Bits* p = probs + bh * N * np2;
  PrefetchNextQkv(s, bh, qkv);
  PackTransposed(q + C, ld3, N, D / 2, w.packed.data(), nc);
  Gemm(N, PairsOf::Rows(q, ld3), w.packed.data(), nc, D / 2, w.c.data(), nc);
  const __m512 sv = _mm512_set1_ps(scale);
  for (Dim i = 0; i < N; ++i) {
    float* row = w.c.data() + i * nc;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (Dim j = 0; j < N; j += 16) {
      const __m512 t = _mm512_mul_ps(_mm512_loadu_ps(row + j), sv);
      _mm512_storeu_ps(row + j, t);
      mx = _mm512_mask_max_ps(mx, Lanes(N - j), mx, t);
    }
    const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (Dim j = 0; j < N; j += 16) {
      const __m512 e = _mm512_maskz_mov_ps(Lanes(N - j), ExpNonPositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
      _mm512_storeu_ps(row + j, e);
      sum = _mm512_add_ps(sum, e);
    }
    // A NaN score (lost by the max above) is NaN in its exp, so in the sum: the row is NaN.
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (Dim j = 0; j < np2; j += 16) StoreBf16(p + i * np2 + j, _mm512_maskz_mul_ps(Lanes(N - j), _mm512_loadu_ps(row + j), inv), Lanes(np2 - j));
  }
  PackRows(q + 2 * C, ld3, N, D, w.packed.data(), dc);
  Gemm(N, PairsOf::Rows(p, np2), w.packed.data(), dc, np2 / 2, w.c.data(), dc);
  StoreRows(w.c.data(), dc, N, D, out + b * N * C + h * D, C);
}

void Forward(const Shape& s, float scale, const Bits* qkv, Bits* out, Bits* probs) {
  at::parallel_for(0, s.B * s.H, 1, [&](int64_t t0, int64_t t1) {
    Scratch w(s);
    for (int64_t bh = t0; bh < t1; ++bh) ForwardTask(s, bh, scale, qkv, out, probs, w);
  });
}

// One (batch, head)'s gradient, written in place into dqkv's q, k and v columns:
//   dV = P^T dO;  dP = dO V^T;  dS = scale * P * (dP - rowsum(dP * P));  dQ = dS K;  dK = dS^T Q.
PFT_BF16 void BackwardTask(const Shape& s, Dim bh, float scale, const Bits* qkv, const Bits* probs, const Bits* gradOut, Bits* dqkv, Scratch& w) {
  const Dim N = s.N, D = s.D, C = s.C, ld3 = 3 * C, np2 = s.np2(), nc = s.nc(), dc = s.dc();
  const Dim b = bh / s.H, h = bh % s.H;
  const Bits* q = qkv + b * N * ld3 + h * D;
  const Bits* p = probs + bh * N * np2;
  const Bits* g = gradOut + b * N * C + h * D;
  Bits* dq = dqkv + b * N * ld3 + h * D;
  if (PrefetchNextQkv(s, bh, qkv)) {
    const Dim nb = (bh + 1) / s.H, nh = (bh + 1) % s.H;
    Prefetch(probs + (bh + 1) * N * np2, 1, 0, N * np2);
    Prefetch(gradOut + nb * N * C + nh * D, N, C, D);
  }

  PackRows(p, np2, N, N, w.at.data(), nc);
  PackRows(g, C, N, D, w.packed.data(), dc);
  Gemm(N, PairsOf::Packed(w.at.data(), nc), w.packed.data(), dc, np2 / 2, w.c.data(), dc);
  StoreRows(w.c.data(), dc, N, D, dq + 2 * C, ld3);

  PackTransposed(q + 2 * C, ld3, N, D / 2, w.packed.data(), nc);
  Gemm(N, PairsOf::Rows(g, C), w.packed.data(), nc, D / 2, w.c.data(), nc);
  const __m512 sv = _mm512_set1_ps(scale);
  for (Dim i = 0; i < N; ++i) {
    const float* dp = w.c.data() + i * nc;
    const Bits* pi = p + i * np2;
    __m512 dot = _mm512_setzero_ps();
    for (Dim j = 0; j < N; j += 16) {
      const __mmask16 m = Lanes(N - j);
      dot = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dp + j), LoadBf16(pi + j, m), dot);
    }
    const __m512 rowDot = _mm512_set1_ps(_mm512_reduce_add_ps(dot));
    for (Dim j = 0; j < np2; j += 16) {
      const __mmask16 m = Lanes(N - j);
      const __m512 ds = _mm512_mul_ps(_mm512_mul_ps(LoadBf16(pi + j, m), _mm512_sub_ps(_mm512_maskz_loadu_ps(m, dp + j), rowDot)), sv);
      StoreBf16(w.a.data() + i * np2 + j, _mm512_maskz_mov_ps(m, ds), Lanes(np2 - j));
    }
  }
  PackRows(q + C, ld3, N, D, w.packed.data(), dc);
  Gemm(N, PairsOf::Rows(w.a.data(), np2), w.packed.data(), dc, np2 / 2, w.c.data(), dc);
  StoreRows(w.c.data(), dc, N, D, dq, ld3);

  PackRows(w.a.data(), np2, N, N, w.at.data(), nc);
  PackRows(q, ld3, N, D, w.packed.data(), dc);
  Gemm(N, PairsOf::Packed(w.at.data(), nc), w.packed.data(), dc, np2 / 2, w.c.data(), dc);
  StoreRows(w.c.data(), dc, N, D, dq + C, ld3);
}

void Backward(const Shape& s, float scale, const Bits* qkv, const Bits* probs, const Bits* gradOut, Bits* dqkv) {
  at::parallel_for(0, s.B * s.H, 1, [&](int64_t t0, int64_t t1) {
    Scratch w(s);
    for (int64_t bh = t0; bh < t1; ++bh) BackwardTask(s, bh, scale, qkv, probs, gradOut, dqkv, w);
  });
}

const Bits* BitsOf(const at::Tensor& t) { return reinterpret_cast<const Bits*>(t.data_ptr<at::BFloat16>()); }
Bits* MutableBitsOf(at::Tensor& t) { return reinterpret_cast<Bits*>(t.data_ptr<at::BFloat16>()); }

Shape ShapeOf(const at::Tensor& qkv, int64_t heads) {
  const Dim B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3;
  return {B, N, heads, C / heads, C};
}

// The kernel reads bf16 pairs as 32-bit words: a view starting at an odd element is copied.
at::Tensor Aligned(at::Tensor t) {
  t = t.contiguous();
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % alignof(uint32_t) == 0 ? t : t.clone();
}

class FusedAttentionBf16 : public torch::autograd::Function<FusedAttentionBf16> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkvIn, int64_t heads, double scale) {
    at::Tensor qkv = Aligned(qkvIn);
    const Shape s = ShapeOf(qkv, heads);
    at::Tensor out = at::empty({s.B, s.N, s.C}, qkv.options());
    at::Tensor probs = at::empty({s.B, s.H, s.N, s.np2()}, qkv.options());
    if (out.numel() > 0) Forward(s, static_cast<float>(scale), BitsOf(qkv), MutableBitsOf(out), MutableBitsOf(probs));
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    NoDoubleBackward("attention", "PFT_FUSED_ATTENTION");
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const Shape s = ShapeOf(qkv, ctx->saved_data["heads"].toInt());
    const double scale = ctx->saved_data["scale"].toDouble();
    at::Tensor g = Aligned(grads[0].to(at::kBFloat16));
    at::Tensor dqkv = at::empty_like(qkv);
    if (dqkv.numel() > 0) Backward(s, static_cast<float>(scale), BitsOf(qkv), BitsOf(probs), BitsOf(g), MutableBitsOf(dqkv));
    return {dqkv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool FusedAttentionBf16Available() {
  static const bool available = !SwitchedOff("PFT_FUSED_ATTENTION") && CpuHasAvx512Bf16();
  return available;
}

bool FusedAttentionBf16Fits(const at::Tensor& qkv, int64_t heads) {
  return FusedAttentionBf16Available() && qkv.scalar_type() == at::kBFloat16 && qkv.device().is_cpu() && (qkv.size(2) / (3 * heads)) % 2 == 0;
}

at::Tensor FusedAttentionBf16(const at::Tensor& qkv, int64_t heads, double scale) { return FusedAttentionBf16::apply(qkv, heads, scale); }

}  // namespace pft
