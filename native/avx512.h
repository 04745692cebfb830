// AVX-512 helpers shared by the addon's vectorised kernels (layer_norm.cc, gelu.cc,
// attention_bf16.cc). Each kernel function carries PFT_AVX512 (or a superset of it) and runs only
// where CpuHasAvx512() says so, so the addon still loads and falls back on other x86 CPUs.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

#include <cstdint>
#include <immintrin.h>

namespace pft {

#define PFT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

inline bool CpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

// The first min(left, 16) lanes (none when left <= 0).
PFT_AVX512 inline __mmask16 Lanes(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1); }

// bfloat16 is the top half of a float32. Loading widens; storing rounds to nearest even and keeps
// NaN a NaN, as c10::BFloat16 does. `p` points at bfloat16 values (at::BFloat16 or their bits).
PFT_AVX512 inline __m512 LoadBf16(const void* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}
PFT_AVX512 inline void StoreBf16(void* p, __m512 v, __mmask16 m) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  rounded = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), rounded, _mm512_set1_epi32(0x7FC0));
  _mm256_mask_storeu_epi16(p, m, _mm512_cvtepi32_epi16(rounded));
}

// 16 elements of float32 or bf16 memory as float32 (the first lanes of `m`, the rest zero), and
// back: what lets one kernel template serve both dtypes.
PFT_AVX512 inline __m512 Load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
PFT_AVX512 inline __m512 Load(const c10::BFloat16* p, __mmask16 m) { return LoadBf16(p, m); }
PFT_AVX512 inline void Store(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }
PFT_AVX512 inline void Store(c10::BFloat16* p, __m512 v, __mmask16 m) { StoreBf16(p, v, m); }

// Runs fn(float()) for a float32 tensor and fn(c10::BFloat16()) otherwise (the callers send no
// other dtype), so a kernel template is instantiated for the tensor's element type.
template <typename Fn>
void FloatOrBf16(c10::ScalarType st, Fn fn) {
  if (st == c10::ScalarType::Float) fn(float());
  else fn(c10::BFloat16());
}

// e^x for x <= ~0 (a softmax's shifted scores, GELU's -x^2 / 2): Cody-Waite range reduction and
// Cephes' degree-6 polynomial (about 1 ulp); 0 below -87, where float32 would go subnormal. NaN
// stays NaN.
PFT_AVX512 inline __m512 ExpNonPositive(__m512 in) {
  const __mmask16 underflow = _mm512_cmp_ps_mask(in, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
  const __m512 x = _mm512_max_ps(_mm512_set1_ps(-87.0f), in);  // NaN is the second operand: it stays NaN
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(_knot_mask16(underflow), _mm512_scalef_ps(e, n));
}

}  // namespace pft
