// oneDNN's GEMM, found in the libdnnl that libtorch itself links (Debian's libtorch does; a
// libtorch that links oneDNN statically and hides its symbols has none, and callers fall back
// to ATen ops). Used by the fused attention and the float32 linear layers.
#pragma once

#include <dlfcn.h>

#include <cstdint>

namespace pft {

using OnednnDim = int64_t;

// dnnl_sgemm: row-major C = alpha * op(A) op(B) + beta * C; op is 'N' or 'T'. Inside a
// parallel region it runs on the calling thread, outside it on all of the engine's threads.
typedef int (*OnednnSgemmFn)(char, char, OnednnDim, OnednnDim, OnednnDim, float, const float*, OnednnDim, const float*,
                             OnednnDim, float, float*, OnednnDim);

inline OnednnSgemmFn OnednnSgemm() {
  static const OnednnSgemmFn fn = [] {
    // The addon is loaded RTLD_LOCAL, so look in the library itself rather than the global scope.
    void* h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_NOLOAD);
    if (!h) h = dlopen("libdnnl.so.2", RTLD_NOW);
    return reinterpret_cast<OnednnSgemmFn>(dlsym(h ? h : RTLD_DEFAULT, "dnnl_sgemm"));
  }();
  return fn;
}

}  // namespace pft
