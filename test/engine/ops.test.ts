// Every exposed op against PyTorch (Debian's python3-torch, same libtorch version), and every
// differentiable op's gradient against float64 central finite differences.
//
// One table drives both sides: each case has the pft expression and the Python expression over
// the same inputs (x, y, z, ...). Inputs come from a seeded PRNG here and travel as JSON.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, F, cat, stack, where, einsum, type DType } from "../../src/engine/index.js";
import { runTorch, assertClose } from "../helpers/reference.js";

type Kind = "randn" | "pos" | "unit" | "bool" | `int:${number}:${number}` | "perm";
interface InputSpec {
  shape: number[];
  kind?: Kind;
}
interface Case {
  name: string;
  inputs: InputSpec[];
  ts: (t: Tensor[]) => Tensor;
  py: string;
  /** check the gradient of every float input (default true when the output is floating) */
  grad?: boolean;
  rtol?: number;
  atol?: number;
}

const I = (...shape: number[]): InputSpec => ({ shape });
const P = (...shape: number[]): InputSpec => ({ shape, kind: "pos" });

const cases: Case[] = [
  // elementwise, unary
  { name: "neg", inputs: [I(2, 3)], ts: ([x]) => x.neg(), py: "-x" },
  { name: "abs", inputs: [I(2, 3)], ts: ([x]) => x.abs(), py: "x.abs()" },
  { name: "exp", inputs: [I(2, 3)], ts: ([x]) => x.exp(), py: "x.exp()" },
  { name: "log", inputs: [P(2, 3)], ts: ([x]) => x.log(), py: "x.log()" },
  { name: "log1p", inputs: [P(2, 3)], ts: ([x]) => x.log1p(), py: "x.log1p()" },
  { name: "sqrt", inputs: [P(2, 3)], ts: ([x]) => x.sqrt(), py: "x.sqrt()" },
  { name: "rsqrt", inputs: [P(2, 3)], ts: ([x]) => x.rsqrt(), py: "x.rsqrt()" },
  { name: "square", inputs: [I(2, 3)], ts: ([x]) => x.square(), py: "x.square()" },
  { name: "tanh", inputs: [I(2, 3)], ts: ([x]) => x.tanh(), py: "x.tanh()" },
  { name: "sigmoid", inputs: [I(2, 3)], ts: ([x]) => x.sigmoid(), py: "x.sigmoid()" },
  { name: "relu", inputs: [I(2, 3)], ts: ([x]) => x.relu(), py: "x.relu()" },
  { name: "silu", inputs: [I(2, 3)], ts: ([x]) => x.silu(), py: "F.silu(x)" },
  { name: "sin", inputs: [I(2, 3)], ts: ([x]) => x.sin(), py: "x.sin()" },
  { name: "cos", inputs: [I(2, 3)], ts: ([x]) => x.cos(), py: "x.cos()" },
  { name: "reciprocal", inputs: [P(2, 3)], ts: ([x]) => x.reciprocal(), py: "x.reciprocal()" },
  { name: "sign", inputs: [I(2, 3)], ts: ([x]) => x.sign(), py: "x.sign()", grad: false },
  { name: "floor", inputs: [I(2, 3)], ts: ([x]) => x.mul(3).floor(), py: "(x*3).floor()", grad: false },
  { name: "ceil", inputs: [I(2, 3)], ts: ([x]) => x.mul(3).ceil(), py: "(x*3).ceil()", grad: false },
  { name: "round", inputs: [I(2, 3)], ts: ([x]) => x.mul(3).round(), py: "(x*3).round()", grad: false },
  { name: "erf", inputs: [I(2, 3)], ts: ([x]) => x.erf(), py: "x.erf()" },
  { name: "erfinv", inputs: [{ shape: [2, 3], kind: "unit" }], ts: ([x]) => x.erfinv(), py: "x.erfinv()" },
  { name: "gelu", inputs: [I(2, 3)], ts: ([x]) => F.gelu(x), py: "F.gelu(x)" },
  { name: "gelu_tanh", inputs: [I(2, 3)], ts: ([x]) => x.gelu("tanh"), py: "F.gelu(x, approximate='tanh')" },
  { name: "isnan", inputs: [I(4)], ts: ([x]) => x.log().isnan(), py: "x.log().isnan()", grad: false },
  { name: "isfinite", inputs: [I(4)], ts: ([x]) => x.div(0).isfinite(), py: "(x/0).isfinite()", grad: false },
  { name: "logicalNot", inputs: [{ shape: [4], kind: "bool" }], ts: ([x]) => x.logicalNot(), py: "x.logical_not()", grad: false },
  // elementwise, binary (broadcasting) and with scalars
  { name: "add", inputs: [I(2, 3), I(3)], ts: ([x, y]) => x.add(y), py: "x + y" },
  { name: "add_alpha", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.add(y, 0.5), py: "torch.add(x, y, alpha=0.5)" },
  { name: "add_scalar", inputs: [I(2, 3)], ts: ([x]) => x.add(2.5), py: "x + 2.5" },
  { name: "sub", inputs: [I(2, 3), I(2, 1)], ts: ([x, y]) => x.sub(y), py: "x - y" },
  { name: "sub_alpha", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.sub(y, 2), py: "torch.sub(x, y, alpha=2)" },
  { name: "rsub", inputs: [I(2, 3)], ts: ([x]) => x.rsub(1), py: "1 - x" },
  { name: "mul", inputs: [I(2, 3), I(1, 3)], ts: ([x, y]) => x.mul(y), py: "x * y" },
  { name: "mul_scalar", inputs: [I(2, 3)], ts: ([x]) => x.mul(-3), py: "x * -3" },
  { name: "div", inputs: [I(2, 3), P(2, 3)], ts: ([x, y]) => x.div(y), py: "x / y" },
  { name: "div_scalar", inputs: [I(2, 3)], ts: ([x]) => x.div(4), py: "x / 4" },
  { name: "pow", inputs: [P(2, 3), I(2, 3)], ts: ([x, y]) => x.pow(y), py: "x ** y" },
  { name: "pow_scalar", inputs: [I(2, 3)], ts: ([x]) => x.pow(3), py: "x ** 3" },
  { name: "remainder", inputs: [I(2, 3)], ts: ([x]) => x.remainder(0.7), py: "x.remainder(0.7)" },
  { name: "maximum", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.maximum(y), py: "torch.maximum(x, y)" },
  { name: "minimum", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.minimum(y), py: "torch.minimum(x, y)" },
  { name: "eq", inputs: [{ shape: [6], kind: "int:0:3" }, { shape: [6], kind: "int:0:3" }], ts: ([x, y]) => x.eq(y), py: "x == y" },
  { name: "ne", inputs: [{ shape: [6], kind: "int:0:3" }], ts: ([x]) => x.ne(1), py: "x != 1" },
  { name: "lt", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.lt(y), py: "x < y" },
  { name: "le", inputs: [I(2, 3)], ts: ([x]) => x.le(0), py: "x <= 0" },
  { name: "gt", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.gt(y), py: "x > y" },
  { name: "ge", inputs: [I(2, 3)], ts: ([x]) => x.ge(0.1), py: "x >= 0.1" },
  { name: "logicalAnd", inputs: [{ shape: [5], kind: "bool" }, { shape: [5], kind: "bool" }], ts: ([x, y]) => x.logicalAnd(y), py: "x.logical_and(y)", grad: false },
  { name: "logicalOr", inputs: [{ shape: [5], kind: "bool" }, { shape: [5], kind: "bool" }], ts: ([x, y]) => x.logicalOr(y), py: "x.logical_or(y)", grad: false },
  { name: "int_add_stays_int", inputs: [{ shape: [4], kind: "int:0:9" }], ts: ([x]) => x.add(1), py: "x + 1" },
  { name: "clamp", inputs: [I(3, 4)], ts: ([x]) => x.clamp(-0.5, 0.5), py: "x.clamp(-0.5, 0.5)" },
  { name: "clamp_min", inputs: [I(3, 4)], ts: ([x]) => x.clamp(0.1), py: "x.clamp(min=0.1)" },
  { name: "where", inputs: [{ shape: [2, 3], kind: "bool" }, I(2, 3), I(2, 3)], ts: ([c, x, y]) => where(c, x, y), py: "torch.where(x, y, z)" },
  { name: "where_scalar", inputs: [{ shape: [2, 3], kind: "bool" }, I(2, 3)], ts: ([c, x]) => where(c, x, 0), py: "torch.where(x, y, torch.tensor(0.0))" },
  { name: "maskedFill", inputs: [I(2, 3), { shape: [2, 3], kind: "bool" }], ts: ([x, m]) => x.maskedFill(m, -100), py: "x.masked_fill(y, -100)" },
  { name: "lerp", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.lerp(y, 0.3), py: "torch.lerp(x, y, 0.3)" },
  { name: "lerp_tensor", inputs: [I(2, 3), I(2, 3), I(2, 3)], ts: ([x, y, w]) => x.lerp(y, w), py: "torch.lerp(x, y, z)" },
  // in place (checked on clones; values only)
  { name: "add_", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.clone().add_(y, 2), py: "x.clone().add_(y, alpha=2)", grad: false },
  { name: "sub_", inputs: [I(2, 3)], ts: ([x]) => x.clone().sub_(1.5), py: "x.clone().sub_(1.5)", grad: false },
  { name: "mul_", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => x.clone().mul_(y), py: "x.clone().mul_(y)", grad: false },
  { name: "div_", inputs: [I(2, 3)], ts: ([x]) => x.clone().div_(3), py: "x.clone().div_(3)", grad: false },
  { name: "addcmul_", inputs: [I(4), I(4), I(4)], ts: ([x, y, z]) => x.clone().addcmul_(y, z, 0.1), py: "x.clone().addcmul_(y, z, value=0.1)", grad: false },
  { name: "addcdiv_", inputs: [I(4), I(4), P(4)], ts: ([x, y, z]) => x.clone().addcdiv_(y, z, -0.1), py: "x.clone().addcdiv_(y, z, value=-0.1)", grad: false },
  { name: "lerp_", inputs: [I(4), I(4)], ts: ([x, y]) => x.clone().lerp_(y, 0.1), py: "x.clone().lerp_(y, 0.1)", grad: false },
  { name: "clamp_", inputs: [I(4)], ts: ([x]) => x.clone().clamp_(null, 0.2), py: "x.clone().clamp_(max=0.2)", grad: false },
  { name: "copy_", inputs: [I(2, 3), I(3)], ts: ([x, y]) => x.clone().copy_(y), py: "x.clone().copy_(y)", grad: false },
  { name: "fill_", inputs: [I(2, 3)], ts: ([x]) => x.clone().fill_(7), py: "x.clone().fill_(7)", grad: false },
  { name: "zero_", inputs: [I(2, 3)], ts: ([x]) => x.clone().zero_(), py: "x.clone().zero_()", grad: false },
  { name: "sqrt_", inputs: [P(4)], ts: ([x]) => x.clone().sqrt_(), py: "x.clone().sqrt_()", grad: false },
  { name: "erfinv_", inputs: [{ shape: [4], kind: "unit" }], ts: ([x]) => x.clone().erfinv_(), py: "x.clone().erfinv_()", grad: false },
  { name: "maskedFill_", inputs: [I(2, 3), { shape: [2, 3], kind: "bool" }], ts: ([x, m]) => x.clone().maskedFill_(m, 3), py: "x.clone().masked_fill_(y, 3)", grad: false },
  { name: "indexPut_", inputs: [I(4, 3), { shape: [2], kind: "int:0:4" }, I(2, 3)], ts: ([x, i, v]) => x.clone().indexPut_([i], v, true), py: "x.clone().index_put_((y,), z, accumulate=True)", grad: false },
  // reductions
  { name: "sum", inputs: [I(2, 3, 4)], ts: ([x]) => x.sum(), py: "x.sum()" },
  { name: "sum_dims", inputs: [I(2, 3, 4)], ts: ([x]) => x.sum([0, 2], { keepdim: true }), py: "x.sum((0, 2), keepdim=True)" },
  { name: "sum_dtype", inputs: [I(2, 3)], ts: ([x]) => x.sum(1, { dtype: "float64" }), py: "x.sum(1, dtype=torch.float64)" },
  { name: "mean", inputs: [I(2, 3, 4)], ts: ([x]) => x.mean(-1), py: "x.mean(-1)" },
  { name: "mean_all", inputs: [I(2, 3)], ts: ([x]) => x.mean(), py: "x.mean()" },
  { name: "amax", inputs: [I(2, 3, 4)], ts: ([x]) => x.amax(1), py: "x.amax(1)" },
  { name: "amin", inputs: [I(2, 3, 4)], ts: ([x]) => x.amin([0, 2], true), py: "x.amin((0, 2), keepdim=True)" },
  { name: "maxDim_values", inputs: [I(3, 4)], ts: ([x]) => x.maxDim(1)[0], py: "x.max(1)[0]" },
  { name: "maxDim_indices", inputs: [I(3, 4)], ts: ([x]) => x.maxDim(1)[1], py: "x.max(1)[1]" },
  { name: "minDim_values", inputs: [I(3, 4)], ts: ([x]) => x.minDim(0, true)[0], py: "x.min(0, keepdim=True)[0]" },
  { name: "argmax", inputs: [I(3, 4)], ts: ([x]) => x.argmax(-1), py: "x.argmax(-1)" },
  { name: "argmin", inputs: [I(3, 4)], ts: ([x]) => x.argmin(), py: "x.argmin()" },
  { name: "var", inputs: [I(3, 4)], ts: ([x]) => x.var(1), py: "x.var(1)" },
  { name: "var_biased", inputs: [I(3, 4)], ts: ([x]) => x.var(undefined, { correction: 0 }), py: "x.var(unbiased=False)" },
  { name: "std", inputs: [I(3, 4)], ts: ([x]) => x.std(0, { keepdim: true }), py: "x.std(0, keepdim=True)" },
  { name: "norm", inputs: [I(3, 4)], ts: ([x]) => x.norm(), py: "x.norm()" },
  { name: "norm_dim", inputs: [I(3, 4)], ts: ([x]) => x.norm(2, 1), py: "x.norm(2, 1)" },
  { name: "norm_p1", inputs: [I(3, 4)], ts: ([x]) => x.norm(1, [0]), py: "x.norm(1, 0)" },
  { name: "logsumexp", inputs: [I(3, 4)], ts: ([x]) => x.logsumexp(1), py: "x.logsumexp(1)" },
  { name: "cumsum", inputs: [I(3, 4)], ts: ([x]) => x.cumsum(1), py: "x.cumsum(1)" },
  { name: "all", inputs: [{ shape: [4], kind: "bool" }], ts: ([x]) => x.all(), py: "x.all()", grad: false },
  { name: "any", inputs: [{ shape: [4], kind: "bool" }], ts: ([x]) => x.any(), py: "x.any()", grad: false },
  { name: "topk_values", inputs: [I(3, 5)], ts: ([x]) => x.topk(2)[0], py: "x.topk(2)[0]" },
  { name: "topk_indices_smallest", inputs: [I(3, 5)], ts: ([x]) => x.topk(2, 1, false)[1], py: "x.topk(2, 1, largest=False)[1]" },
  { name: "sort_values", inputs: [I(3, 5)], ts: ([x]) => x.sort(1, true)[0], py: "x.sort(1, descending=True)[0]" },
  { name: "sort_indices", inputs: [I(3, 5)], ts: ([x]) => x.sort(0)[1], py: "x.sort(0)[1]" },
  { name: "softmax", inputs: [I(3, 5)], ts: ([x]) => F.softmax(x, -1), py: "x.softmax(-1)" },
  // multi-head self-attention over a qkv projection ([B, N, 3 * heads * 4], scale 4 ** -0.5); 17
  // tokens cover the fused kernel's 16-wide row loops and their remainder; float64 inputs (the
  // finite-difference check) run the same fused kernel with a loop GEMM
  ...["fused", "composed"].map((kind): Case => ({
    name: `attention_${kind}`,
    inputs: [I(2, 17, 24)],
    ts: ([x]) => F.attention(x, 2, { fused: kind === "fused" }),
    py: "(lambda p: ((p[0] * 0.5) @ p[1].transpose(-2, -1)).softmax(-1) @ p[2])(x.reshape(2, 17, 3, 2, 4).permute(2, 0, 3, 1, 4)).transpose(1, 2).reshape(2, 17, 8)",
  })),
  { name: "logSoftmax", inputs: [I(3, 5)], ts: ([x]) => F.logSoftmax(x, 1), py: "x.log_softmax(1)" },
  // shape and indexing
  { name: "reshape", inputs: [I(2, 3, 4)], ts: ([x]) => x.reshape([4, -1]), py: "x.reshape(4, -1)" },
  { name: "view", inputs: [I(2, 3, 4)], ts: ([x]) => x.view([6, 4]), py: "x.view(6, 4)" },
  { name: "permute", inputs: [I(2, 3, 4)], ts: ([x]) => x.permute([2, 0, 1]).contiguous(), py: "x.permute(2, 0, 1).contiguous()" },
  { name: "transpose", inputs: [I(2, 3, 4)], ts: ([x]) => x.transpose(0, 2), py: "x.transpose(0, 2)" },
  { name: "mT", inputs: [I(2, 3, 4)], ts: ([x]) => x.mT(), py: "x.transpose(-2, -1)" },
  { name: "flatten", inputs: [I(2, 3, 4)], ts: ([x]) => x.flatten(1), py: "x.flatten(1)" },
  { name: "unsqueeze", inputs: [I(2, 3)], ts: ([x]) => x.unsqueeze(1), py: "x.unsqueeze(1)" },
  { name: "squeeze", inputs: [I(2, 1, 3)], ts: ([x]) => x.squeeze(1), py: "x.squeeze(1)" },
  { name: "squeeze_all", inputs: [I(1, 3, 1)], ts: ([x]) => x.squeeze(), py: "x.squeeze()" },
  { name: "expand", inputs: [I(1, 3)], ts: ([x]) => x.expand([4, 3]), py: "x.expand(4, 3)" },
  { name: "repeat", inputs: [I(2, 3)], ts: ([x]) => x.repeat([2, 1, 2]), py: "x.repeat(2, 1, 2)" },
  { name: "cat", inputs: [I(2, 3), I(1, 3)], ts: ([x, y]) => cat([x, y], 0), py: "torch.cat([x, y], 0)" },
  { name: "stack", inputs: [I(2, 3), I(2, 3)], ts: ([x, y]) => stack([x, y], 1), py: "torch.stack([x, y], 1)" },
  { name: "split", inputs: [I(5, 3)], ts: ([x]) => x.split(2, 0)[2], py: "x.split(2, 0)[2]" },
  { name: "split_sizes", inputs: [I(5, 3)], ts: ([x]) => x.split([1, 4], 0)[1], py: "x.split([1, 4], 0)[1]" },
  { name: "chunk", inputs: [I(2, 6)], ts: ([x]) => x.chunk(3, 1)[1], py: "x.chunk(3, 1)[1]" },
  { name: "narrow", inputs: [I(4, 5)], ts: ([x]) => x.narrow(1, 1, 3), py: "x.narrow(1, 1, 3)" },
  { name: "select", inputs: [I(4, 5)], ts: ([x]) => x.select(0, 2), py: "x[2]" },
  { name: "slice", inputs: [I(4, 7)], ts: ([x]) => x.slice(1, 1, null, 2), py: "x[:, 1::2]" },
  { name: "slice_negative", inputs: [I(4, 7)], ts: ([x]) => x.slice(0, -2), py: "x[-2:]" },
  { name: "indexSelect", inputs: [I(4, 3), { shape: [5], kind: "int:0:4" }], ts: ([x, i]) => x.indexSelect(0, i), py: "x.index_select(0, y)" },
  { name: "gather", inputs: [I(3, 4), { shape: [3, 2], kind: "int:0:4" }], ts: ([x, i]) => x.gather(1, i), py: "x.gather(1, y)" },
  { name: "scatter", inputs: [I(3, 4), { shape: [3, 1], kind: "int:0:4" }], ts: ([x, i]) => x.scatter(1, i, 0), py: "x.scatter(1, y, 0.0)" },
  { name: "index", inputs: [I(4, 5), { shape: [3], kind: "int:0:4" }, { shape: [3], kind: "int:0:5" }], ts: ([x, i, j]) => x.index([i, j]), py: "x[y, z]" },
  { name: "index_none", inputs: [I(4, 5), { shape: [2], kind: "int:0:5" }], ts: ([x, j]) => x.index([null, j]), py: "x[:, y]" },
  { name: "roll", inputs: [I(2, 4, 4)], ts: ([x]) => x.roll([-1, 2], [1, 2]), py: "torch.roll(x, shifts=(-1, 2), dims=(1, 2))" },
  { name: "flip", inputs: [I(2, 3)], ts: ([x]) => x.flip([1]), py: "x.flip(1)" },
  { name: "pad", inputs: [I(1, 2, 3, 3)], ts: ([x]) => x.pad([1, 0, 2, 1]), py: "F.pad(x, (1, 0, 2, 1))" },
  { name: "pad_value", inputs: [I(2, 3)], ts: ([x]) => x.pad([1, 1], -1), py: "F.pad(x, (1, 1), value=-1.0)" },
  { name: "tril", inputs: [I(4, 4)], ts: ([x]) => x.tril(), py: "x.tril()" },
  { name: "triu", inputs: [I(4, 4)], ts: ([x]) => x.triu(1), py: "x.triu(1)" },
  { name: "oneHot", inputs: [{ shape: [5], kind: "int:0:4" }], ts: ([x]) => x.oneHot(4), py: "F.one_hot(x, 4)" },
  { name: "unfold", inputs: [I(2, 7)], ts: ([x]) => x.unfold(1, 3, 2), py: "x.unfold(1, 3, 2)" },
  { name: "clone", inputs: [I(2, 3)], ts: ([x]) => x.clone(), py: "x.clone()" },
  { name: "to_float64", inputs: [I(2, 3)], ts: ([x]) => x.to("float64"), py: "x.double()" },
  { name: "to_int64", inputs: [I(2, 3)], ts: ([x]) => x.mul(3).to("int64"), py: "(x*3).long()" },
  // linear algebra
  { name: "matmul", inputs: [I(2, 3, 4), I(4, 5)], ts: ([x, y]) => x.matmul(y), py: "x @ y" },
  { name: "matmul_batched", inputs: [I(2, 2, 3, 4), I(2, 1, 4, 3)], ts: ([x, y]) => x.matmul(y), py: "x @ y" },
  { name: "mm", inputs: [I(3, 4), I(4, 2)], ts: ([x, y]) => x.mm(y), py: "x.mm(y)" },
  { name: "bmm", inputs: [I(2, 3, 4), I(2, 4, 2)], ts: ([x, y]) => x.bmm(y), py: "x.bmm(y)" },
  { name: "einsum", inputs: [I(2, 3, 4), I(2, 4, 5)], ts: ([x, y]) => einsum("bij,bjk->bik", [x, y]), py: "torch.einsum('bij,bjk->bik', x, y)" },
  // neural-network ops
  { name: "linear", inputs: [I(2, 3, 4), I(5, 4), I(5)], ts: ([x, w, b]) => F.linear(x, w, b), py: "F.linear(x, y, z)" },
  { name: "linear_nobias", inputs: [I(3, 4), I(5, 4)], ts: ([x, w]) => F.linear(x, w), py: "F.linear(x, y)" },
  { name: "layerNorm", inputs: [I(2, 3, 6), I(6), I(6)], ts: ([x, w, b]) => F.layerNorm(x, [6], w, b, 1e-6), py: "F.layer_norm(x, (6,), y, z, 1e-6)" },
  { name: "layerNorm_plain", inputs: [I(4, 5)], ts: ([x]) => F.layerNorm(x, [5]), py: "F.layer_norm(x, (5,))" },
  { name: "conv2d", inputs: [I(2, 3, 6, 6), I(4, 3, 3, 3), I(4)], ts: ([x, w, b]) => F.conv2d(x, w, b, { stride: 2, padding: 1 }), py: "F.conv2d(x, y, z, stride=2, padding=1)" },
  { name: "conv2d_patch", inputs: [I(1, 3, 8, 8), I(5, 3, 4, 4)], ts: ([x, w]) => F.conv2d(x, w, null, { stride: 4 }), py: "F.conv2d(x, y, stride=4)" },
  { name: "conv2d_depthwise", inputs: [I(2, 4, 7, 7), I(4, 1, 7, 7), I(4)], ts: ([x, w, b]) => F.conv2d(x, w, b, { padding: 3, groups: 4 }), py: "F.conv2d(x, y, z, padding=3, groups=4)", rtol: 1e-4 },
  { name: "crossEntropy", inputs: [I(4, 5), { shape: [4], kind: "int:0:5" }], ts: ([x, t]) => F.crossEntropy(x, t), py: "F.cross_entropy(x, y)" },
  { name: "crossEntropy_smoothing", inputs: [I(4, 5), { shape: [4], kind: "int:0:5" }], ts: ([x, t]) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }), py: "F.cross_entropy(x, y, label_smoothing=0.1)" },
  { name: "crossEntropy_soft", inputs: [I(4, 5), I(4, 5)], ts: ([x, t]) => F.crossEntropy(x, t.softmax(1)), py: "F.cross_entropy(x, y.softmax(1))" },
  { name: "crossEntropy_none", inputs: [I(4, 5), { shape: [4], kind: "int:0:5" }], ts: ([x, t]) => F.crossEntropy(x, t, { reduction: "none" }), py: "F.cross_entropy(x, y, reduction='none')" },
  { name: "mseLoss", inputs: [I(3, 4), I(3, 4)], ts: ([x, y]) => F.mseLoss(x, y), py: "F.mse_loss(x, y)" },
  { name: "dropout_eval", inputs: [I(3, 4)], ts: ([x]) => F.dropout(x, 0.5, false), py: "F.dropout(x, 0.5, training=False)" },
  { name: "adaptiveAvgPool2d", inputs: [I(2, 3, 5, 5)], ts: ([x]) => F.adaptiveAvgPool2d(x, 1), py: "F.adaptive_avg_pool2d(x, 1)" },
  { name: "avgPool2d", inputs: [I(1, 2, 4, 4)], ts: ([x]) => F.avgPool2d(x, 2), py: "F.avg_pool2d(x, 2)" },
  { name: "maxPool2d", inputs: [I(1, 2, 5, 5)], ts: ([x]) => F.maxPool2d(x, 3, 2, 1), py: "F.max_pool2d(x, 3, 2, 1)" },
  { name: "interpolate_bilinear", inputs: [I(1, 2, 3, 3)], ts: ([x]) => F.interpolate(x, [5, 4]), py: "F.interpolate(x, size=(5, 4), mode='bilinear', align_corners=False)" },
  { name: "interpolate_bicubic", inputs: [I(1, 2, 3, 3)], ts: ([x]) => F.interpolate(x, [6, 6], "bicubic"), py: "F.interpolate(x, size=(6, 6), mode='bicubic', align_corners=False)" },
  { name: "interpolate_nearest", inputs: [I(1, 2, 3, 3)], ts: ([x]) => F.interpolate(x, [6, 6], "nearest"), py: "F.interpolate(x, size=(6, 6), mode='nearest')" },
];

// ---------------------------------------------------------------- deterministic inputs

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Materialized {
  shape: number[];
  dtype: "float" | "int" | "bool";
  values: number[];
}

function materialize(spec: InputSpec, rand: () => number): Materialized {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const kind = spec.kind ?? "randn";
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  // Values are rounded to float32 here so both sides start from identical numbers.
  const f32 = (v: number) => Math.fround(v);
  if (kind === "randn") return { shape: spec.shape, dtype: "float", values: Array.from({ length: n }, () => f32(gauss())) };
  if (kind === "pos") return { shape: spec.shape, dtype: "float", values: Array.from({ length: n }, () => f32(0.5 + 1.5 * rand())) };
  if (kind === "unit") return { shape: spec.shape, dtype: "float", values: Array.from({ length: n }, () => f32(1.8 * rand() - 0.9)) };
  if (kind === "bool") return { shape: spec.shape, dtype: "bool", values: Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0)) };
  const [, lo, hi] = kind.split(":").map(Number);
  return { shape: spec.shape, dtype: "int", values: Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo))) };
}

const dtypeOf = (m: Materialized, float: DType): DType => (m.dtype === "float" ? float : m.dtype === "int" ? "int64" : "bool");
const make = (m: Materialized, float: DType, grad: boolean) =>
  Tensor.from(m.values, m.shape, { dtype: dtypeOf(m, float), requiresGrad: grad && m.dtype === "float" });

/** The loss weights both sides use: w[i] = cos(1.7 i + 0.3), so every output element matters differently. */
const lossWeights = (n: number) => Array.from({ length: n }, (_, i) => Math.cos(1.7 * i + 0.3));

const rand = mulberry32(1234);
const inputs = cases.map((c) => c.inputs.map((s) => materialize(s, rand)));

// ---------------------------------------------------------------- the reference

const PY = String.raw`
import json, sys, math, torch
import torch.nn.functional as F
torch.set_num_threads(1)
cases = json.load(sys.stdin)
out = []
for c in cases:
    ts = []
    for inp in c["inputs"]:
        dt = {"float": torch.float32, "int": torch.int64, "bool": torch.bool}[inp["dtype"]]
        t = torch.tensor(inp["values"], dtype=dt).reshape(inp["shape"])
        if inp["dtype"] == "float" and c["grad"]:
            t.requires_grad_(True)
        ts.append(t)
    env = {"torch": torch, "F": F}
    for name, t in zip("xyzuvw", ts):
        env[name] = t
    r = eval(c["py"], env)
    res = {"shape": list(r.shape), "dtype": str(r.dtype).replace("torch.", ""),
           "values": r.detach().double().flatten().tolist() if r.is_floating_point() else r.long().flatten().tolist()}
    if c["grad"] and r.is_floating_point():
        w = torch.tensor([math.cos(1.7 * i + 0.3) for i in range(r.numel())], dtype=r.dtype).reshape(r.shape)
        (r * w).sum().backward()
        res["grads"] = [t.grad.double().flatten().tolist() if t.grad is not None else None for t in ts]
    out.append(res)
print(json.dumps(out))
`;

interface RefResult {
  shape: number[];
  dtype: string;
  values: number[];
  grads?: (number[] | null)[];
}

const wantsGrad = (c: Case, ins: Materialized[]) => c.grad !== false && ins.some((m) => m.dtype === "float");

const reference = runTorch<RefResult[]>(
  PY,
  cases.map((c, k) => ({ py: c.py, grad: wantsGrad(c, inputs[k]), inputs: inputs[k] })),
);

// ---------------------------------------------------------------- the checks

for (const [k, c] of cases.entries()) {
  test(`op ${c.name} matches PyTorch`, () => {
    const ref = reference[k];
    const grad = wantsGrad(c, inputs[k]);
    const ts = inputs[k].map((m) => make(m, "float32", grad));
    const out = c.ts(ts);
    assert.deepEqual(out.shape, ref.shape, "shape");
    assert.equal(out.dtype, ref.dtype, "dtype");
    assertClose(out.toArray(), ref.values, c.rtol ?? 1e-5, c.atol ?? 1e-6, `${c.name} values`);
    if (grad && ref.grads) {
      const w = Tensor.from(lossWeights(out.numel()), out.shape, { dtype: out.dtype });
      out.mul(w).sum().backward();
      ts.forEach((t, i) => {
        const expected = ref.grads![i];
        if (!expected) return;
        const g = t.grad;
        assert.ok(g, `${c.name}: input ${i} has no gradient`);
        assertClose(g.toArray(), expected, c.rtol ?? 1e-4, c.atol ?? 1e-5, `${c.name} grad of input ${i}`);
      });
    }
    for (const t of ts) t.dispose();
  });
}

// Gradients against float64 central differences: an independent check of libtorch's autograd
// through our binding (argument order, alpha/scalar handling, views).
for (const [k, c] of cases.entries()) {
  if (!wantsGrad(c, inputs[k])) continue;
  test(`op ${c.name} gradient matches float64 finite differences`, () => {
    const ins = inputs[k];
    const ts = ins.map((m) => make(m, "float64", true));
    const out = c.ts(ts);
    if (out.dtype !== "float64") return; // integer-valued outputs (argmax, ...) have no gradient
    const w = Tensor.from(lossWeights(out.numel()), out.shape, { dtype: "float64" });
    const loss = (xs: Tensor[]) => c.ts(xs).mul(w).sum().item();
    out.mul(w).sum().backward();
    const eps = 1e-6;
    ins.forEach((m, i) => {
      if (m.dtype !== "float") return;
      const analytic = ts[i].grad!.toArray();
      const numeric = m.values.map((_, e) => {
        const shifted = (delta: number) =>
          ins.map((mm, j) => {
            if (j !== i) return make(mm, "float64", false);
            const vals = mm.values.slice();
            vals[e] += delta;
            return make({ ...mm, values: vals }, "float64", false);
          });
        return (loss(shifted(eps)) - loss(shifted(-eps))) / (2 * eps);
      });
      assertClose(analytic, numeric, 1e-5, 1e-6, `${c.name} d/d input ${i}`);
    });
  });
}
