// float32 F.linear on oneDNN's sgemm (native/linear.cc) against the same product through ATen's
// matmul (BLAS), values and gradients, at the shapes models use; that it really bypasses ATen's
// GEMMs; and that everything else still goes to at::linear. Values against PyTorch and the
// float64 gradient check are in ops.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor, F, autocast, manualSeed, profile, engineInfo, PftError } from "../../src/index.js";
import { assertClose } from "../helpers/reference.js";

interface Grads {
  out: number[];
  x?: number[];
  w?: number[];
  b?: number[];
}

function both(xShape: number[], n: number, opts: { bias?: boolean; frozenWeight?: boolean; frozenInput?: boolean; transposed?: boolean } = {}) {
  const k = xShape[xShape.length - 1];
  const x0 = opts.transposed ? Tensor.randn([...xShape.slice(0, -2), k, xShape[xShape.length - 2]]).transpose(-1, -2) : Tensor.randn(xShape);
  const w0 = Tensor.randn([n, k]);
  const b0 = Tensor.randn([n]);
  const run = (viaMatmul: boolean): Grads => {
    const x = x0.detach().requiresGrad_(!opts.frozenInput);
    const w = w0.detach().requiresGrad_(!opts.frozenWeight);
    const b = opts.bias === false ? null : b0.detach().requiresGrad_(true);
    let out = viaMatmul ? x.matmul(w.mT()) : F.linear(x, w, b);
    if (viaMatmul && b) out = out.add(b);
    out.mul(out).sum().backward();
    return { out: out.toArray(), x: x.grad?.toArray(), w: w.grad?.toArray(), b: b?.grad?.toArray() };
  };
  return { onednn: run(false), matmul: run(true) };
}

function assertSame(a: Grads, b: Grads, what: string) {
  assertClose(a.out, b.out, 1e-4, 1e-4, `${what}: output`);
  for (const key of ["x", "w", "b"] as const) {
    assert.equal(a[key] === undefined, b[key] === undefined, `${what}: gradient of ${key} defined on one side only`);
    if (a[key] && b[key]) assertClose(a[key]!, b[key]!, 1e-4, 1e-3, `${what}: gradient of ${key}`);
  }
}

test("float32 linear on oneDNN equals x @ W^T + b through ATen, values and gradients", () => {
  assert.equal(engineInfo().onednnLinear, true, "Debian's libtorch links libdnnl");
  manualSeed(7);
  assertSame(...pair(both([4, 65, 192], 576)), "ViT qkv, 3-D input");
  assertSame(...pair(both([33, 768], 192)), "MLP fc2, 2-D input");
  assertSame(...pair(both([5, 7], 3, { bias: false })), "no bias");
  assertSame(...pair(both([3, 6, 5], 4, { transposed: true })), "non-contiguous input");
  assertSame(...pair(both([0, 8], 4)), "empty batch");
});

test("frozen weights and inputs get no gradient, the others the same ones", () => {
  manualSeed(8);
  const frozenWeight = both([6, 16], 8, { frozenWeight: true });
  assert.equal(frozenWeight.onednn.w, undefined);
  assertSame(frozenWeight.onednn, frozenWeight.matmul, "frozen weight");
  const frozenInput = both([6, 16], 8, { frozenInput: true });
  assert.equal(frozenInput.onednn.x, undefined);
  assertSame(frozenInput.onednn, frozenInput.matmul, "input without gradient");
});

test("the oneDNN path runs no ATen GEMM (profiled); autocast and float64 still go through at::linear", () => {
  const dir = mkdtempSync(join(tmpdir(), "pft-linear-"));
  try {
    const opsOf = (fn: () => void) => {
      const trace = join(dir, "trace.json");
      profile(trace, fn);
      return new Set((JSON.parse(readFileSync(trace, "utf8")) as { name: string }[]).map((e) => e.name));
    };
    const x = Tensor.randn([8, 16], { requiresGrad: true });
    const w = Tensor.randn([4, 16], { requiresGrad: true });
    const b = Tensor.randn([4], { requiresGrad: true });
    const fp32 = opsOf(() => F.linear(x, w, b).sum().backward());
    for (const op of ["aten::addmm", "aten::mm", "aten::matmul"]) assert.ok(!fp32.has(op), `float32 path ran ${op}`);
    const bf16 = opsOf(() => autocast(() => F.linear(x, w, b)).float().sum().backward());
    assert.ok(bf16.has("aten::addmm"), "autocast linear goes through at::linear (bf16 addmm)");
    const f64 = opsOf(() => F.linear(x.double(), w.double(), b.double()).sum().backward());
    assert.ok(f64.has("aten::addmm"), "float64 goes through at::linear");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("linear shape errors stay one clear line", () => {
  assert.throws(() => F.linear(Tensor.randn([2, 3]), Tensor.randn([4, 5])), (e: unknown) => e instanceof PftError && e.code === "engine" && /^linear: /.test((e as Error).message));
  assert.throws(() => F.linear(Tensor.randn([2, 3]), Tensor.randn([4, 3]), Tensor.randn([5])), (e: unknown) => e instanceof PftError && e.code === "engine");
});

function pair(r: { onednn: Grads; matmul: Grads }): [Grads, Grads] {
  return [r.onednn, r.matmul];
}
