// GELU (exact, erf form) for float32 and bfloat16 that computes its derivative in the same pass
// and keeps that for backward instead of the input:
//
//   gelu(x) = x * Phi(x),   gelu'(x) = Phi(x) + x * phi(x),   backward: dx = dy * gelu'(x)
//
// Why: libtorch 1.13's GELU backward recomputes erf and exp from the saved input, and for
// bfloat16 its Vectorized<BFloat16> widens to float and rounds back around every step of the
// formula. A ViT's MLP runs it on its widest activation ([B, N, 4C]); at the bench ViT's
// [64, 65, 768] bf16 it took 1.7-6 ms per call on 2 threads. Here the forward pass widens each
// element once and computes Phi and phi together (one exp in float32), writing gelu(x)
// and gelu'(x); backward is one multiply, bound by memory alone. Memory held for backward is the
// same (gelu'(x) replaces x, which only the GELU kept). Without grad only gelu(x) is computed.
//
// Precision: float32 as libtorch's to a few ulp. bfloat16 rounds gelu'(x) to bf16 and then the
// product, two roundings where libtorch has one (relative error up to 2^-8, tests bound it).
//
// Needs AVX-512 (F, BW, VL); other dtypes, approximate="tanh", other CPUs and PFT_FUSED_GELU=0
// go to at::gelu.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "avx512.h"
#include "engine.h"

#include <cstdint>

namespace pft {

namespace {

// Phi(x), the standard normal CDF; with kSlope also gelu'(x) = Phi(x) + x phi(x) in `slope`.
// Phi(-|x|) = erfc(z) / 2 with z = |x| / sqrt 2, and erfc(z) = t P(t) e^(-z^2), t = 1 / (1 + a z),
// Abramowitz and Stegun 7.1.26: the same approximation libtorch's vectorised erf uses (absolute
// error below 1.5e-7), but taken on erfc, so a negative x's Phi keeps its relative precision
// (erf's 1 + erf(x) cancels it away). e^(-z^2) serves phi too: one exp per element.
template <bool kSlope>
PFT_AVX512 inline __m512 Phi(__m512 x, __m512* slope) {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), z, one));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  const __m512 gauss = ExpNonPositive(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z));  // e^(-z^2) = e^(-x^2 / 2)
  const __m512 halfErfc = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), t), _mm512_mul_ps(p, gauss));  // Phi(-|x|)
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 cdf = _mm512_mask_blend_ps(negative, _mm512_sub_ps(one, halfErfc), halfErfc);
  if constexpr (kSlope) *slope = _mm512_fmadd_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.39894228040143268f)), gauss, cdf);
  return cdf;
}

// y = gelu(x) and, when d is not null, d = gelu'(x), over n elements. Four vectors per step: the
// formula is one long dependent chain (a division, a polynomial, an exp), so independent vectors
// side by side are what keeps the FMA units busy.
template <bool kSlope, typename T>
PFT_AVX512 inline void GeluVectors(const T* x, T* y, T* d, int64_t n) {
  constexpr int kStep = 4;
  __m512 v[kStep], cdf[kStep], slope[kStep];
  __mmask16 m[kStep];
#pragma GCC unroll 4
  for (int k = 0; k < kStep; ++k) {
    m[k] = Lanes(n - 16 * k);
    v[k] = Load(x + 16 * k, m[k]);
  }
#pragma GCC unroll 4
  for (int k = 0; k < kStep; ++k) cdf[k] = Phi<kSlope>(v[k], &slope[k]);
#pragma GCC unroll 4
  for (int k = 0; k < kStep; ++k) {
    Store(y + 16 * k, _mm512_mul_ps(v[k], cdf[k]), m[k]);
    if constexpr (kSlope) Store(d + 16 * k, slope[k], m[k]);
  }
}

template <typename T>
PFT_AVX512 void GeluKernel(const T* x, T* y, T* d, int64_t n) {
  for (int64_t i = 0; i < n; i += 64) {
    if (d) GeluVectors<true>(x + i, y + i, d + i, n - i);
    else GeluVectors<false>(x + i, y + i, static_cast<T*>(nullptr), n - i);
  }
}

constexpr int64_t kGrain = 16384;

// gelu(x), and gelu'(x) in `slope` when it is defined (same layout as x).
at::Tensor Forward(const at::Tensor& x, at::Tensor* slope) {
  at::Tensor y = at::empty_like(x);
  if (slope) *slope = at::empty_like(x);
  FloatOrBf16(x.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data_ptr<T>();
    T* out = y.data_ptr<T>();
    T* d = slope ? slope->data_ptr<T>() : nullptr;
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t a, int64_t b) { GeluKernel(in + a, out + a, d ? d + a : nullptr, b - a); });
  });
  return y;
}

class FusedGelu : public torch::autograd::Function<FusedGelu> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor slope;
    at::Tensor y = Forward(x, &slope);
    ctx->save_for_backward({slope});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    NoDoubleBackward("gelu", "PFT_FUSED_GELU");
    if (!grads[0].defined()) return {at::Tensor()};
    const at::Tensor slope = ctx->get_saved_variables()[0];
    return {at::mul(grads[0].to(slope.scalar_type()), slope)};
  }
};

}  // namespace

bool FusedGeluAvailable() {
  static const bool available = !SwitchedOff("PFT_FUSED_GELU") && CpuHasAvx512();
  return available;
}

at::Tensor Gelu(const at::Tensor& x, const std::string& approximate) {
  const auto st = x.scalar_type();
  // Dense storage (contiguous or any permutation of it, as channels-last) is walked flat.
  if (approximate == "none" && FusedGeluAvailable() && x.device().is_cpu() && (st == at::kFloat || st == at::kBFloat16) &&
      x.is_non_overlapping_and_dense()) {
    RECORD_FUNCTION("pft::gelu", std::vector<c10::IValue>({x}));  // named in profiles (bench --profile)
    if (at::GradMode::is_enabled() && x.requires_grad()) return FusedGelu::apply(x);
    return Forward(x, nullptr);
  }
  return at::gelu(x, approximate);
}

}  // namespace pft
