// LayerNorm over the last dimension with a bfloat16 output, forward and backward: what a
// transformer block computes under bf16 autocast between its residual stream and the linear
// layer that follows each norm.
//
// Under autocast libtorch runs layer_norm in float32 (its output is float32) and the next linear
// casts that output to bfloat16: one more pass writing the float32 output, reading it back and
// writing the bf16 copy, and in backward the mirror cast of the gradient. Here the normalised
// row is rounded to bfloat16 as it is written (the same value the cast makes), and backward reads
// the bfloat16 gradient directly. The input is float32 (a ViT's residual stream) or bfloat16 (a
// Swin stage after a patch merging, a ConvNeXt block after its depthwise conv): a bf16 input is
// widened as it is read, as layer_norm of its float32 cast would see it, and its gradient is
// rounded back to bf16. Statistics and the affine parameters stay float32, and so do the
// parameter gradients.
//
// The fused pass needs AVX-512 (F, BW, VL); elsewhere, and with PFT_FUSED_LAYER_NORM=0, it is
// layer_norm (of the float32 cast) followed by the cast.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "avx512.h"
#include "engine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pft {

namespace {

// Rows [r0, r1) of y = (x - mean) * rstd * w + b, with each row's mean and rstd saved.
template <typename T>
PFT_AVX512 void ForwardRows(const T* x, const float* w, const float* b, at::BFloat16* y, float* mean, float* rstd, int64_t r0, int64_t r1, int64_t C, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    __m512 s = _mm512_setzero_ps();
    for (int64_t j = 0; j < C; j += 16) s = _mm512_add_ps(s, Load(xr + j, Lanes(C - j)));
    const float mu = _mm512_reduce_add_ps(s) / static_cast<float>(C);
    const __m512 muv = _mm512_set1_ps(mu);
    __m512 q = _mm512_setzero_ps();
    for (int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = Lanes(C - j);
      const __m512 d = _mm512_maskz_sub_ps(m, Load(xr + j, m), muv);
      q = _mm512_fmadd_ps(d, d, q);
    }
    const float rs = 1.0f / std::sqrt(_mm512_reduce_add_ps(q) / static_cast<float>(C) + eps);
    const __m512 rsv = _mm512_set1_ps(rs);
    for (int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = Lanes(C - j);
      const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(Load(xr + j, m), muv), rsv);
      StoreBf16(y + r * C + j, _mm512_fmadd_ps(xhat, _mm512_maskz_loadu_ps(m, w + j), _mm512_maskz_loadu_ps(m, b + j)), m);
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// Rows [r0, r1) of the gradient: dx per row (in x's dtype), and this chunk's sums of dy * xhat
// (dw) and dy (db).
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w
template <typename T>
PFT_AVX512 void BackwardRows(const at::BFloat16* dy, const T* x, const float* w, const float* mean, const float* rstd, T* dx, float* dw, float* db,
                             int64_t r0, int64_t r1, int64_t C) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    const at::BFloat16* gr = dy + r * C;
    const __m512 muv = _mm512_set1_ps(mean[r]), rsv = _mm512_set1_ps(rstd[r]);
    __m512 sg = _mm512_setzero_ps(), sgx = _mm512_setzero_ps();
    for (int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = Lanes(C - j);
      const __m512 xhat = _mm512_maskz_mul_ps(m, _mm512_sub_ps(Load(xr + j, m), muv), rsv);
      const __m512 d = LoadBf16(gr + j, m);
      const __m512 g = _mm512_mul_ps(d, _mm512_maskz_loadu_ps(m, w + j));
      sg = _mm512_add_ps(sg, g);
      sgx = _mm512_fmadd_ps(g, xhat, sgx);
      if (dw) _mm512_mask_storeu_ps(dw + j, m, _mm512_fmadd_ps(d, xhat, _mm512_maskz_loadu_ps(m, dw + j)));
      if (db) _mm512_mask_storeu_ps(db + j, m, _mm512_add_ps(d, _mm512_maskz_loadu_ps(m, db + j)));
    }
    const __m512 c1 = _mm512_set1_ps(_mm512_reduce_add_ps(sgx) / static_cast<float>(C));
    const __m512 c2 = _mm512_set1_ps(_mm512_reduce_add_ps(sg) / static_cast<float>(C));
    for (int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = Lanes(C - j);
      const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(Load(xr + j, m), muv), rsv);
      const __m512 g = _mm512_mul_ps(LoadBf16(gr + j, m), _mm512_maskz_loadu_ps(m, w + j));
      const __m512 inner = _mm512_sub_ps(_mm512_sub_ps(g, c2), _mm512_mul_ps(xhat, c1));
      Store(dx + r * C + j, _mm512_mul_ps(rsv, inner), m);
    }
  }
}

// Rows are split into at most one chunk per thread (so the per-chunk parameter-gradient sums
// stay few), of at least 64 rows.
int64_t RowChunks(int64_t rows) { return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows / 64)); }

template <typename Fn>
void ForRowChunks(int64_t rows, Fn fn) {
  const int64_t chunks = RowChunks(rows);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(c, rows * c / chunks, rows * (c + 1) / chunks);
  });
}

class LayerNormBf16 : public torch::autograd::Function<LayerNormBf16> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& xIn, const at::Tensor& wIn, const at::Tensor& bIn, double eps) {
    const int64_t C = xIn.size(-1);
    const at::Tensor x = xIn.contiguous(), w = wIn.contiguous(), b = bIn.contiguous();
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kBFloat16));
    at::Tensor mean = at::empty({rows}, x.options().dtype(at::kFloat)), rstd = at::empty({rows}, x.options().dtype(at::kFloat));
    FloatOrBf16(x.scalar_type(), [&](auto zero) {
      using T = decltype(zero);
      ForRowChunks(rows, [&](int64_t, int64_t r0, int64_t r1) {
        ForwardRows(x.data_ptr<T>(), w.data_ptr<float>(), b.data_ptr<float>(), y.data_ptr<at::BFloat16>(), mean.data_ptr<float>(), rstd.data_ptr<float>(), r0, r1,
                    C, static_cast<float>(eps));
      });
    });
    ctx->save_for_backward({x, w, mean, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    NoDoubleBackward("layer norm", "PFT_FUSED_LAYER_NORM");
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &mean = saved[2], &rstd = saved[3];
    const at::Tensor dy = grads[0].to(at::kBFloat16).contiguous();
    const int64_t C = x.size(-1), rows = mean.numel();
    const bool wantX = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1), wantB = ctx->needs_input_grad(2);
    at::Tensor dx = at::empty_like(x);
    const int64_t chunks = RowChunks(rows);
    at::Tensor dwParts = at::zeros({chunks, C}, w.options()), dbParts = at::zeros({chunks, C}, w.options());
    FloatOrBf16(x.scalar_type(), [&](auto zero) {
      using T = decltype(zero);
      ForRowChunks(rows, [&](int64_t c, int64_t r0, int64_t r1) {
        BackwardRows(dy.data_ptr<at::BFloat16>(), x.data_ptr<T>(), w.data_ptr<float>(), mean.data_ptr<float>(), rstd.data_ptr<float>(), dx.data_ptr<T>(),
                     wantW ? dwParts.data_ptr<float>() + c * C : nullptr, wantB ? dbParts.data_ptr<float>() + c * C : nullptr, r0, r1, C);
      });
    });
    return {wantX ? dx : at::Tensor(), wantW ? dwParts.sum(0) : at::Tensor(), wantB ? dbParts.sum(0) : at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool LayerNormBf16Available() {
  static const bool available = !SwitchedOff("PFT_FUSED_LAYER_NORM") && CpuHasAvx512();
  return available;
}

// LayerNorm over the last dimension for a linear layer that follows: under bf16 CPU autocast a
// float32 or bf16 input with float32 weight and bias comes out in bfloat16 (the dtype that linear
// casts it to), fused into one pass where the CPU allows; otherwise exactly at::layer_norm (of a
// bf16 input's float32 cast, with float32 parameters).
at::Tensor LayerNormForLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps) {
  TORCH_CHECK(x.dim() > 0, "layer norm needs at least one dimension, got a scalar");
  const int64_t C = x.size(-1);
  const bool bf16Autocast = at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
  const bool floatParams = w.defined() && b.defined() && w.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat;
  // A bf16 input with float32 parameters is normalised in float32, as F.layerNorm does (libtorch
  // 1.13's layer_norm refuses the mix).
  auto widened = [&] { return floatParams && x.scalar_type() == at::kBFloat16 ? x.to(at::kFloat) : x; };
  const bool fits = floatParams && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && w.dim() == 1 && b.dim() == 1 && w.size(0) == C &&
                    b.size(0) == C && x.device().is_cpu() && w.device().is_cpu() && b.device().is_cpu();
  if (!bf16Autocast || !fits) return at::layer_norm(widened(), {C}, w, b, eps);
  if (LayerNormBf16Available()) return LayerNormBf16::apply(x, w, b, eps);
  return at::layer_norm(widened(), {C}, w, b, eps).to(at::kBFloat16);
}

}  // namespace pft
