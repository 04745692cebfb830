// Fused multi-head self-attention over a qkv projection, forward and backward.
//
//   out[b, t, h*D:(h+1)*D] = softmax(scale * Q_bh K_bh^T) V_bh,
//   Q_bh = qkv[b, :, 0*C + h*D : ...], K_bh = qkv[b, :, 1*C + h*D : ...], V_bh = qkv[b, :, 2*C + h*D : ...]
//
// This is what timm's Attention computes after `qkv = self.qkv(x)`. Written with ATen ops it
// costs, per block: three permute copies (q, k, v), a scale pass, per-(batch, head) BLAS calls
// that each wake the thread pool (libtorch 1.13 splits a float32 bmm along the batch), the output
// transpose copy, and in backward three zero-filled select gradients summed into one. Here every
// (batch, head) pair is one task of one parallel loop that reads Q, K, V in place (row stride 3C),
// multiplies with oneDNN's single-threaded GEMM (dnnl_sgemm, from the libdnnl that libtorch
// itself links), keeps its scores in cache through the softmax, and writes its output and its
// gradient in place. Measured at the bench ViT's size (64 x 65 tokens, 3 heads of 64): forward
// and backward 9 ms against 18-21 ms composed.
//
// float32, and float64 through a plain loop GEMM (the same kernel otherwise, so its gradient can
// be checked against finite differences). bfloat16 has its own kernel (native/attention_bf16.cc).
// Without oneDNN's GEMM symbols (a libtorch that hides them) float32 and float64 are composed,
// and so is attention with dropout on its weights.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "engine.h"
#include "onednn.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace pft {

namespace {

using Dim = OnednnDim;

// Row-major C = alpha * op(A) op(B) + beta * C, single-threaded (called inside parallel_for).
void Gemm(char ta, char tb, Dim m, Dim n, Dim k, float alpha, const float* a, Dim lda, const float* b, Dim ldb, float beta, float* c, Dim ldc) {
  OnednnSgemm()(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void Gemm(char ta, char tb, Dim m, Dim n, Dim k, double alpha, const double* a, Dim lda, const double* b, Dim ldb, double beta, double* c, Dim ldc) {
  for (Dim i = 0; i < m; ++i) {
    for (Dim j = 0; j < n; ++j) {
      double s = 0;
      for (Dim p = 0; p < k; ++p) {
        double x = ta == 'N' ? a[i * lda + p] : a[p * lda + i];
        double y = tb == 'N' ? b[p * ldb + j] : b[j * ldb + p];
        s += x * y;
      }
      c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
    }
  }
}

struct Dims {
  Dim B, N, H, D, C;
};

Dims CheckQkv(const at::Tensor& qkv, int64_t heads) {
  TORCH_CHECK(qkv.dim() == 3, "qkv must be [batch, tokens, 3 * dim], got ", qkv.sizes());
  TORCH_CHECK(heads > 0, "heads must be positive, got ", heads);
  const Dim B = qkv.size(0), N = qkv.size(1), C3 = qkv.size(2);
  TORCH_CHECK(C3 % (3 * heads) == 0, "last dimension ", C3, " is not 3 * heads * head_dim for ", heads, " heads");
  const auto st = qkv.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kBFloat16 || st == at::kDouble,
              "qkv must be float32, bfloat16 or float64, got ", c10::toString(st));
  TORCH_CHECK(qkv.device().is_cpu(), "the fused kernel runs on the CPU, qkv is on ", qkv.device());
  return {B, N, heads, C3 / (3 * heads), C3 / 3};
}

// exp for the softmax: Cody-Waite range reduction and Cephes' degree-6 polynomial (about 1 ulp
// on the range a softmax uses), branch-free so the row loops vectorise; compiled for AVX-512,
// AVX2 and the baseline, picked at load by the CPU (target_clones).
inline float ExpNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;  // e^-87 ~ 1.6e-38 stays a normal float; the row max gives e^0 = 1
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float two;
  std::memcpy(&two, &bits, sizeof two);
  return e * two;
}

// Reductions over a row with 16 independent partial results: one vector register's worth, so
// the compiler vectorises them and they do not wait on one accumulator's latency.
constexpr Dim kLanes = 16;
inline float RowMax(const float* x, Dim n) {
  float acc[kLanes];
  for (Dim l = 0; l < kLanes; ++l) acc[l] = x[0];
  Dim j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (Dim l = 0; l < kLanes; ++l) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
  for (; j < n; ++j) acc[0] = x[j] > acc[0] ? x[j] : acc[0];
  float m = acc[0];
  for (Dim l = 1; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  return m;
}
inline float RowDot(const float* x, const float* y, Dim n) {
  float acc[kLanes] = {};
  Dim j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (Dim l = 0; l < kLanes; ++l) acc[l] += x[j + l] * y[j + l];
  for (; j < n; ++j) acc[0] += x[j] * y[j];
  float s = 0;
  for (Dim l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}
inline float RowSum(const float* x, Dim n) {
  float acc[kLanes] = {};
  Dim j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (Dim l = 0; l < kLanes; ++l) acc[l] += x[j + l];
  for (; j < n; ++j) acc[0] += x[j];
  float s = 0;
  for (Dim l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}
inline double RowDot(const double* x, const double* y, Dim n) {
  double s = 0;
  for (Dim j = 0; j < n; ++j) s += x[j] * y[j];
  return s;
}

// Row-wise softmax of a rows x cols block, in place.
__attribute__((target_clones("avx512f", "avx2", "default"))) void SoftmaxRows(float* s, Dim rows, Dim cols) {
  for (Dim i = 0; i < rows; ++i) {
    float* row = s + i * cols;
    const float mx = RowMax(row, cols);
    for (Dim j = 0; j < cols; ++j) row[j] = ExpNonPositive(row[j] - mx);
    const float inv = 1.0f / RowSum(row, cols);
    for (Dim j = 0; j < cols; ++j) row[j] *= inv;
  }
}
void SoftmaxRows(double* s, Dim rows, Dim cols) {
  for (Dim i = 0; i < rows; ++i) {
    double* row = s + i * cols;
    double mx = row[0];
    for (Dim j = 1; j < cols; ++j) mx = std::max(mx, row[j]);
    double sum = 0;
    for (Dim j = 0; j < cols; ++j) sum += (row[j] = std::exp(row[j] - mx));
    for (Dim j = 0; j < cols; ++j) row[j] /= sum;
  }
}

// One parallel loop; each (batch, head) task computes its scores into its slice of `probs`
// (kept for backward, as PyTorch keeps its attention weights), applies the softmax there while
// the block is in cache, and multiplies by V straight into the output.
template <typename T>
void Forward(const Dims& d, double scale, const at::Tensor& qkv, at::Tensor& out, at::Tensor& probs) {
  const Dim N = d.N, D = d.D, C = d.C, ld3 = 3 * d.C;
  const T* x = qkv.data_ptr<T>();
  probs = at::empty({d.B, d.H, N, N}, qkv.options());
  T* pr = probs.data_ptr<T>();
  T* o = out.data_ptr<T>();
  at::parallel_for(0, d.B * d.H, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t bh = b0; bh < b1; ++bh) {
      const Dim b = bh / d.H, h = bh % d.H;
      const T* q = x + b * N * ld3 + h * D;
      T* p = pr + bh * N * N;
      Gemm('N', 'T', N, N, D, static_cast<T>(scale), q, ld3, q + C, ld3, T(0), p, N);
      SoftmaxRows(p, N, N);
      Gemm('N', 'N', N, D, N, T(1), p, N, q + 2 * C, ld3, T(0), o + b * N * C + h * D, C);
    }
  });
}

// The gradient, per (batch, head), written in place into dqkv's q, k and v columns:
//   dV = P^T dO;  dP = dO V^T;  dS = scale * P * (dP - rowsum(dP * P));  dQ = dS K;  dK = dS^T Q.
template <typename T>
at::Tensor Backward(const Dims& d, double scale, const at::Tensor& qkv, const at::Tensor& probs, const at::Tensor& gradOut) {
  const Dim N = d.N, D = d.D, C = d.C, ld3 = 3 * d.C;
  at::Tensor dqkv = at::empty_like(qkv);
  const T* x = qkv.data_ptr<T>();
  const T* pr = probs.data_ptr<T>();
  const T* go = gradOut.data_ptr<T>();
  T* dx = dqkv.data_ptr<T>();
  at::parallel_for(0, d.B * d.H, 1, [&](int64_t b0, int64_t b1) {
    std::vector<T> ds(static_cast<size_t>(N * N));
    for (int64_t bh = b0; bh < b1; ++bh) {
      const Dim b = bh / d.H, h = bh % d.H;
      const T* q = x + b * N * ld3 + h * D;
      const T* p = pr + bh * N * N;
      const T* g = go + b * N * C + h * D;
      T* dq = dx + b * N * ld3 + h * D;
      Gemm('T', 'N', N, D, N, T(1), p, N, g, C, T(0), dq + 2 * C, ld3);
      Gemm('N', 'T', N, N, D, T(1), g, C, q + 2 * C, ld3, T(0), ds.data(), N);
      for (Dim i = 0; i < N; ++i) {
        const T* pi = p + i * N;
        T* dsi = ds.data() + i * N;
        const T dot = RowDot(dsi, pi, N);
        for (Dim j = 0; j < N; ++j) dsi[j] = pi[j] * (dsi[j] - dot) * static_cast<T>(scale);
      }
      Gemm('N', 'N', N, D, N, T(1), ds.data(), N, q + C, ld3, T(0), dq, ld3);
      Gemm('T', 'N', N, D, N, T(1), ds.data(), N, q, ld3, T(0), dq + C, ld3);
    }
  });
  return dqkv;
}

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkvIn, int64_t heads, double scale) {
    const Dims d = CheckQkv(qkvIn, heads);
    at::Tensor qkv = qkvIn.contiguous();
    at::Tensor out = at::empty({d.B, d.N, d.C}, qkv.options());
    at::Tensor probs;
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "attention", [&] { Forward<scalar_t>(d, scale, qkv, out, probs); });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    NoDoubleBackward("attention", "PFT_FUSED_ATTENTION");
    auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const double scale = ctx->saved_data["scale"].toDouble();
    const Dims d = CheckQkv(qkv, heads);
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    at::Tensor g = grads[0].to(qkv.scalar_type()).contiguous();
    at::Tensor dqkv;
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "attention_backward", [&] { dqkv = Backward<scalar_t>(d, scale, qkv, probs, g); });
    return {dqkv, at::Tensor(), at::Tensor()};
  }
};

// The same function from ATen ops: bfloat16, the fallback, and the reference in tests. One
// permute copy makes q, k and v contiguous [B * H, N, D] blocks (timm's q/k/v selects each get
// copied by matmul, and their backward fills three zero tensors and sums them). The scale is a
// multiply, as in timm: libtorch 1.13's baddbmm with beta 0 multiplies uninitialised memory by 0
// for small matrices (NaN in, NaN out). `dropout` > 0 drops attention weights (timm's attn_drop).
at::Tensor Composite(const at::Tensor& qkv, int64_t heads, double scale, double dropout) {
  const Dims d = CheckQkv(qkv, heads);
  auto parts = qkv.reshape({d.B, d.N, 3, d.H, d.D}).permute({2, 0, 3, 1, 4}).contiguous().view({3, d.B * d.H, d.N, d.D});
  auto q = parts[0], k = parts[1], v = parts[2];
  auto weights = at::bmm(q * scale, k.transpose(1, 2)).softmax(-1);
  if (dropout > 0) weights = at::dropout(weights, dropout, /*train=*/true);
  auto out = at::bmm(weights, v);
  return out.view({d.B, d.H, d.N, d.D}).transpose(1, 2).reshape({d.B, d.N, d.C});
}

}  // namespace

// PFT_FUSED_ATTENTION=0 composes every attention (to compare the two).
bool FusedAttentionAvailable() {
  static const bool disabled = SwitchedOff("PFT_FUSED_ATTENTION");
  return !disabled && OnednnSgemm() != nullptr;
}

at::Tensor Attention(const at::Tensor& qkv, int64_t heads, double scale, bool fused, double dropout) {
  TORCH_CHECK(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got ", dropout);
  const auto st = qkv.scalar_type();
  // The fused kernels have no dropout on the attention weights.
  if (fused && dropout == 0) {
    CheckQkv(qkv, heads);
    RECORD_FUNCTION("pft::attention", std::vector<c10::IValue>({qkv}));  // named in profiles (bench --profile)
    if (FusedAttentionAvailable() && qkv.device().is_cpu() && (st == at::kFloat || st == at::kDouble)) return FusedAttention::apply(qkv, heads, scale);
    if (FusedAttentionBf16Fits(qkv, heads)) return FusedAttentionBf16(qkv, heads, scale);
  }
  return Composite(qkv, heads, scale, dropout);
}

}  // namespace pft
