// float32 linear layers (y = x W^T + b) on oneDNN's GEMM, forward and backward.
//
// libtorch 1.13 runs a float32 linear through BLAS (here OpenBLAS 0.3.21) and bf16 through
// oneDNN. On this machine's AVX-512 CPU oneDNN's sgemm is the faster of the two at the shapes a
// ViT has (measured for 4160 x 192 x 576 and the MLP's shapes on 2 threads: forward 198-205 GFLOP/s
// against 154-167, the two backward GEMMs 206-225 against 131-187), so float32 linears call
// `dnnl_sgemm` (from the libdnnl libtorch itself links) directly. Backward computes only the
// gradients autograd asks for: a frozen weight (partial fine-tuning) skips its GEMM, and so does
// the input gradient of a layer whose input needs none.
//
// Everything else goes to at::linear: other dtypes, autocast (which casts to bf16 first), CUDA,
// and a libtorch without oneDNN's GEMM symbols.

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "engine.h"
#include "onednn.h"

#include <cstdint>
#include <vector>

namespace pft {

namespace {

using Dim = OnednnDim;

// null when PFT_DNNL_LINEAR=0 or without oneDNN's GEMM: float32 linears then use at::linear.
OnednnSgemmFn Sgemm() {
  static const OnednnSgemmFn fn = SwitchedOff("PFT_DNNL_LINEAR") ? nullptr : OnednnSgemm();
  return fn;
}

// Row-major C = alpha * op(A) op(B) + beta * C over all the engine's threads (called outside
// any parallel region, oneDNN parallelises it itself).
void Gemm(char ta, char tb, Dim m, Dim n, Dim k, const float* a, Dim lda, const float* b, Dim ldb, float beta, float* c, Dim ldc) {
  const int status = Sgemm()(ta, tb, m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
  TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status);
}

class DnnlLinear : public torch::autograd::Function<DnnlLinear> {
 public:
  // No bias is an empty placeholder tensor (autograd's input records need defined tensors).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weightIn, const at::Tensor& biasIn, bool hasBias) {
    const at::Tensor bias = hasBias ? biasIn : at::Tensor();
    const Dim K = weightIn.size(1), N = weightIn.size(0);
    at::Tensor x = input.reshape({-1, K}).contiguous();
    at::Tensor w = weightIn.contiguous();
    const Dim M = x.size(0);
    at::Tensor out = bias.defined() ? bias.expand({M, N}).contiguous() : at::empty({M, N}, x.options());
    if (M > 0 && N > 0) {
      if (K > 0) Gemm('N', 'T', M, N, K, x.data_ptr<float>(), K, w.data_ptr<float>(), K, bias.defined() ? 1.f : 0.f, out.data_ptr<float>(), N);
      else if (!bias.defined()) out.zero_();
    }
    ctx->save_for_backward({x, w});
    ctx->saved_data["hasBias"] = bias.defined();
    std::vector<int64_t> shape = input.sizes().vec();
    shape.back() = N;
    ctx->saved_data["inputShape"] = input.sizes().vec();
    return out.view(shape);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    NoDoubleBackward("linear", "PFT_DNNL_LINEAR");
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const Dim M = x.size(0), K = x.size(1), N = w.size(0);
    at::Tensor dx, dw, db;
    if (!grads[0].defined()) return {dx, dw, db, at::Tensor()};
    at::Tensor dy = grads[0].reshape({M, N}).to(at::kFloat).contiguous();
    const bool empty = M == 0 || N == 0 || K == 0;
    if (ctx->needs_input_grad(0)) {
      dx = at::zeros({M, K}, x.options());
      if (!empty) Gemm('N', 'N', M, K, N, dy.data_ptr<float>(), N, w.data_ptr<float>(), K, 0.f, dx.data_ptr<float>(), K);
      dx = dx.view(ctx->saved_data["inputShape"].toIntVector());
    }
    if (ctx->needs_input_grad(1)) {
      dw = at::zeros({N, K}, w.options());
      if (!empty) Gemm('T', 'N', N, K, M, dy.data_ptr<float>(), N, x.data_ptr<float>(), K, 0.f, dw.data_ptr<float>(), K);
    }
    if (ctx->saved_data["hasBias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db, at::Tensor()};
  }
};

bool UseDnnl(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  if (!Sgemm() || at::autocast::is_cpu_enabled()) return false;
  if (x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat || !x.device().is_cpu() || !w.device().is_cpu()) return false;
  if (x.dim() < 1 || w.dim() != 2 || x.size(-1) != w.size(1)) return false;  // at::linear names the shape error
  if (b && b->defined() && (b->scalar_type() != at::kFloat || !b->device().is_cpu() || b->dim() != 1 || b->size(0) != w.size(0))) return false;
  return true;
}

}  // namespace

bool DnnlLinearAvailable() { return Sgemm() != nullptr; }

at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  if (UseDnnl(x, w, b)) {
    const bool hasBias = b && b->defined();
    return DnnlLinear::apply(x, w, hasBias ? *b : at::empty({0}, w.options()), hasBias);
  }
  return at::linear(x, w, b);
}

}  // namespace pft
