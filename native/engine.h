// What the addon's other translation units give native/addon.cc (which binds them to JS).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pft {

// An engine switch set to "0" in the environment (PFT_FUSED_ATTENTION=0, ...) turns a feature off.
inline bool SwitchedOff(const char* variable) {
  const char* v = std::getenv(variable);
  return v && std::strcmp(v, "0") == 0;
}

// The fused kernels' backward passes are not themselves differentiable. A backward with
// createGraph runs them with grad mode on: that stops here with a clear error instead of second
// derivatives that silently miss the kernel's terms.
inline void NoDoubleBackward(const char* kernel, const char* variable) {
  TORCH_CHECK(!at::GradMode::is_enabled(), kernel, ": second derivatives (backward with createGraph) are not supported by the fused kernel; set ",
              variable, "=0 to use libtorch's ops");
}

// native/attention.cc: multi-head self-attention over a qkv projection ([B, N, 3C] -> [B, N, C]);
// fused (float32/float64 here, bfloat16 in attention_bf16.cc) unless `fused` is false or
// `dropout` > 0.
bool FusedAttentionAvailable();
at::Tensor Attention(const at::Tensor& qkv, int64_t heads, double scale, bool fused, double dropout);

// native/attention_bf16.cc: the fused kernel for bfloat16 qkv (AVX-512 BF16, an even head size).
bool FusedAttentionBf16Available();
bool FusedAttentionBf16Fits(const at::Tensor& qkv, int64_t heads);
at::Tensor FusedAttentionBf16(const at::Tensor& qkv, int64_t heads, double scale);

// native/layer_norm.cc: LayerNorm over the last dimension for a following linear layer; under
// bf16 CPU autocast its output is bfloat16 (fused on AVX-512 CPUs), otherwise at::layer_norm.
bool LayerNormBf16Available();
at::Tensor LayerNormForLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps);

// native/gelu.cc: exact GELU; float32/bf16 on AVX-512 keep gelu'(x) for backward, else at::gelu.
bool FusedGeluAvailable();
at::Tensor Gelu(const at::Tensor& x, const std::string& approximate);

// native/linear.cc: y = x W^T + b, float32 on oneDNN's sgemm, everything else through at::linear.
bool DnnlLinearAvailable();
at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b);

// native/allocator.cc: the caching CPU allocator.
void InstallCachingAllocator();
struct CacheStats {
  size_t limit, idleBytes;
  uint64_t hits, misses;
};
CacheStats CachingAllocatorStats();
void EmptyCache();

}  // namespace pft
