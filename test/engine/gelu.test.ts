// The exact GELU's own kernel (native/gelu.cc), which keeps gelu'(x) for backward: values and
// gradients against float64 in float32 and bf16, the layouts and dtypes it leaves to at::gelu,
// NaN and infinities, and PFT_FUSED_GELU=0. Against PyTorch's float32 values and gradients it is
// in ops.test.ts's table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor, cat, noGrad, manualSeed, profile, engineInfo } from "../../src/index.js";
import { assertClose, runEngineScript } from "../helpers/reference.js";

/** gelu(x) and d/dx of sum(g * gelu(x)) for x in `dtype`, as float64 arrays. */
function geluAndGrad(x: Tensor, g: Tensor, dtype: "float32" | "bfloat16" | "float64") {
  const xi = x.to(dtype).detach().requiresGrad_(true);
  const y = xi.gelu();
  assert.equal(y.dtype, dtype);
  y.backward(g.to(dtype));
  assert.equal(xi.grad!.dtype, dtype);
  return { y: y.to("float64").toArray(), dx: xi.grad!.to("float64").toArray() };
}

// x from -8 to 8 (float64's 1 + erf(x / sqrt 2) is exact enough to be the reference there) and
// a batch of normal samples.
function inputs() {
  const grid = Array.from({ length: 1601 }, (_, i) => -8 + i * 0.01);
  const x = cat([Tensor.from(grid, [grid.length]), Tensor.randn([4000]).mul(2).clamp(-8, 8)]);
  return { x, g: Tensor.randn(x.shape) };
}

test("the GELU kernel is on wherever the CPU has AVX-512", () => {
  if (engineInfo().cpuBf16) assert.equal(engineInfo().fusedGelu, true);
});

test("float32 GELU and its gradient match float64 (few ulp)", () => {
  manualSeed(11);
  const { x, g } = inputs();
  const exact = geluAndGrad(x.to("float32").to("float64"), g.to("float32").to("float64"), "float64");
  const f32 = geluAndGrad(x, g, "float32");
  assertClose(f32.y, exact.y, 2e-6, 1e-6, "gelu");
  assertClose(f32.dx, exact.dx, 2e-6, 1e-6, "gradient");
});

test("bf16 GELU and its gradient are within bf16 rounding of float64", () => {
  manualSeed(12);
  const { x, g } = inputs();
  const xb = x.to("bfloat16");
  const gb = g.to("bfloat16");
  const exact = geluAndGrad(xb.to("float64"), gb.to("float64"), "float64");
  const bf16 = geluAndGrad(xb, gb, "bfloat16");
  // one rounding for gelu(x) (2^-9 relative), two for the gradient (gelu'(x) kept in bf16, then dy * gelu'(x))
  assertClose(bf16.y, exact.y, 2 ** -8, 1e-6, "gelu");
  assertClose(bf16.dx, exact.dx, 2 ** -7, 1e-6, "gradient");
});

test("without grad GELU computes the same values; other layouts, dtypes and tanh go to at::gelu", () => {
  manualSeed(13);
  const x = Tensor.randn([6, 40]);
  const withGrad = x.detach().requiresGrad_(true).gelu().toArray();
  assert.deepEqual(noGrad(() => x.gelu()).toArray(), withGrad);
  assert.deepEqual(x.gelu().toArray(), withGrad);
  // a transposed (dense) view is walked in storage order; a strided slice is not dense
  assertClose(x.transpose(0, 1).gelu().toArray(), x.gelu().transpose(0, 1).toArray(), 0, 0, "transposed");
  assertClose(x.slice(1, 0, 40, 3).gelu().toArray(), x.gelu().slice(1, 0, 40, 3).toArray(), 1e-6, 1e-7, "strided");
  assertClose(x.to("float64").gelu().toArray(), withGrad, 2e-6, 1e-6, "float64");
  const tanh = x.gelu("tanh").toArray();
  assert.ok(tanh.some((v, i) => v !== withGrad[i]), "tanh is the other formula");
});

test("GELU of NaN is NaN, of infinities as libtorch's", () => {
  for (const dtype of ["float32", "bfloat16"] as const) {
    const x = Tensor.from([NaN, Infinity, -Infinity, 0, 1], [5]).to(dtype).requiresGrad_(true);
    const y = x.gelu();
    y.sum().backward();
    const values = y.float().toArray();
    assert.ok(Number.isNaN(values[0]), `${dtype} NaN`);
    assert.equal(values[1], Infinity);
    assert.ok(Number.isNaN(values[2]), `${dtype}: -inf * Phi(-inf) is -inf * 0`);
    assert.equal(values[3], 0);
    assert.ok(Number.isNaN(x.grad!.float().toArray()[0]));
    assert.equal(x.grad!.float().toArray()[3], 0.5);
  }
});

test("the kernel keeps gelu'(x): no aten::gelu_backward runs (profiled); PFT_FUSED_GELU=0 restores it", () => {
  const dir = mkdtempSync(join(tmpdir(), "pft-gelu-"));
  try {
    const trace = join(dir, "gelu.json");
    const x = Tensor.randn([4, 64], { requiresGrad: true });
    profile(trace, () => x.gelu().sum().backward());
    const names = new Set((JSON.parse(readFileSync(trace, "utf8")) as { name: string }[]).map((e) => e.name));
    assert.ok(!names.has("aten::gelu") && !names.has("aten::gelu_backward"), [...names].join(", "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const script = `
    const { Tensor, manualSeed, engineInfo } = await import(ENGINE);
    manualSeed(5);
    const x = Tensor.randn([3, 50]).requiresGrad_(true);
    const y = x.gelu();
    y.sum().backward();
    console.log(JSON.stringify({ fused: engineInfo().fusedGelu, y: y.toArray(), dx: x.grad.toArray() }));`;
  const run = (env: Record<string, string>) => {
    const r = runEngineScript(script, env);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { fused: boolean; y: number[]; dx: number[] };
  };
  const off = run({ PFT_FUSED_GELU: "0" });
  const on = run({});
  assert.deepEqual([off.fused, on.fused], [false, true]);
  assertClose(on.y, off.y, 2e-6, 1e-6, "values");
  assertClose(on.dx, off.dx, 2e-6, 1e-6, "gradients");
});
