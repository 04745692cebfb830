// F.layerNormForLinear (native/layer_norm.cc): under bf16 autocast, LayerNorm with a bf16 output
// in one fused pass, checked against PyTorch's layer_norm followed by the cast (values and the
// three gradients), at a ViT's shape and at widths that are not a multiple of the vector width,
// from float32 and from bf16 inputs;
// outside autocast it is F.layerNorm itself; PFT_FUSED_LAYER_NORM=0 composes the same thing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor, F, autocast, manualSeed, profile, engineInfo } from "../../src/index.js";
import { LayerNorm } from "../../src/nn/index.js";
import { assertClose, runTorch, runEngineScript } from "../helpers/reference.js";

interface Case {
  shape: number[];
  /** the input is bf16 (a Swin stage after a merging, a ConvNeXt block after its conv) */
  bf16?: boolean;
  x: number[];
  w: number[];
  b: number[];
  g: number[];
}

interface Result {
  y: number[];
  dx: number[];
  dw: number[];
  db: number[];
}

const TORCH_SCRIPT = `
import json, sys, torch
import torch.nn.functional as F
out = []
for c in json.load(sys.stdin):
    x = torch.tensor(c["x"]).reshape(c["shape"])
    x = (x.bfloat16() if c.get("bf16") else x).requires_grad_()
    w = torch.tensor(c["w"]).requires_grad_()
    b = torch.tensor(c["b"]).requires_grad_()
    g = torch.tensor(c["g"]).reshape(c["shape"]).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = F.layer_norm(x.float(), (c["shape"][-1],), w, b, 1e-6).to(torch.bfloat16)
    y.backward(g)
    out.append({"y": y.float().flatten().tolist(), "dx": x.grad.float().flatten().tolist(), "dw": w.grad.tolist(), "db": b.grad.tolist()})
print(json.dumps(out))
`;

function makeCase(shape: number[], bf16Input = false): Case {
  const c = shape[shape.length - 1];
  // An offset and a spread per row, as a residual stream has.
  const x = Tensor.randn(shape).mul(2).add(Tensor.randn([...shape.slice(0, -1), 1]).mul(3));
  const bf16 = (t: Tensor) => t.to("bfloat16").float().toArray();
  return { shape, bf16: bf16Input, x: x.toArray(), w: Tensor.randn([c]).toArray(), b: Tensor.randn([c]).toArray(), g: bf16(Tensor.randn(shape)) };
}

function runPft(c: Case): Result {
  const x = c.bf16 ? Tensor.from(c.x, c.shape).to("bfloat16").requiresGrad_(true) : Tensor.from(c.x, c.shape, { requiresGrad: true });
  const w = Tensor.from(c.w, undefined, { requiresGrad: true });
  const b = Tensor.from(c.b, undefined, { requiresGrad: true });
  const y = autocast(() => F.layerNormForLinear(x, w, b, 1e-6));
  assert.equal(y.dtype, "bfloat16", "under bf16 autocast the output is bf16");
  y.backward(Tensor.from(c.g, c.shape).to("bfloat16"));
  assert.equal(x.grad!.dtype, x.dtype, "the input gradient has the input's dtype");
  return { y: y.float().toArray(), dx: x.grad!.float().toArray(), dw: w.grad!.toArray(), db: b.grad!.toArray() };
}

/** Values one bf16 rounding apart at most (the float32 statistics may differ in the last bit). */
function assertBf16Close(actual: number[], expected: number[], what: string) {
  let off = 0;
  for (let i = 0; i < actual.length; i++) {
    const tol = Math.max(Math.abs(expected[i]), 1e-3) * 2 ** -7;
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs PyTorch ${expected[i]}`);
    if (actual[i] !== expected[i]) off++;
  }
  assert.ok(off <= Math.max(2, actual.length * 0.01), `${what}: ${off} of ${actual.length} values differ from PyTorch`);
}

test("under bf16 autocast layerNormForLinear equals PyTorch's layer_norm then cast to bf16, values and gradients", () => {
  assert.equal(engineInfo().fusedLayerNorm, true, "this machine has AVX-512, so the fused kernel runs");
  manualSeed(3);
  const cases = [makeCase([4, 65, 192]), makeCase([3, 37]), makeCase([2, 5, 16]), makeCase([130, 24]), makeCase([4, 65, 192], true), makeCase([3, 37], true)];
  const expected = runTorch<Result[]>(TORCH_SCRIPT, cases);
  cases.forEach((c, i) => {
    const got = runPft(c);
    const what = `[${c.shape}]${c.bf16 ? " bf16" : ""}`;
    assertBf16Close(got.y, expected[i].y, `${what} output`);
    if (c.bf16) assertBf16Close(got.dx, expected[i].dx, `${what} bf16 input gradient`);
    else assertClose(got.dx, expected[i].dx, 1e-4, 2e-5, `${what} input gradient`);
    assertClose(got.dw, expected[i].dw, 1e-3, 1e-3, `${what} weight gradient`);
    assertClose(got.db, expected[i].db, 1e-3, 1e-4, `${what} bias gradient`);
  });
});

test("the fused path runs no ATen layer norm; outside autocast it is F.layerNorm exactly", () => {
  manualSeed(4);
  const x = Tensor.randn([8, 65, 192], { requiresGrad: true });
  const w = Tensor.randn([192], { requiresGrad: true });
  const b = Tensor.randn([192], { requiresGrad: true });
  const dir = mkdtempSync(join(tmpdir(), "pft-ln-"));
  try {
    const trace = join(dir, "trace.json");
    profile(trace, () => autocast(() => F.layerNormForLinear(x, w, b)).float().sum().backward());
    const ops = new Set((JSON.parse(readFileSync(trace, "utf8")) as { name: string }[]).map((e) => e.name));
    for (const op of ["aten::native_layer_norm", "aten::native_layer_norm_backward"]) assert.ok(!ops.has(op), `fused path ran ${op}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const plain = F.layerNormForLinear(x, w, b);
  assert.equal(plain.dtype, "float32");
  assert.deepEqual(plain.toArray(), F.layerNorm(x, [192], w, b).toArray());
  // A bf16 input is normalised in float32 too: under autocast straight to bf16, outside it exactly
  // as F.layerNorm (a float32 output).
  const xb = x.to("bfloat16");
  assert.equal(autocast(() => F.layerNormForLinear(xb, w, b)).dtype, "bfloat16");
  const plainBf16 = F.layerNormForLinear(xb, w, b);
  assert.equal(plainBf16.dtype, "float32");
  assert.deepEqual(plainBf16.toArray(), F.layerNorm(xb, [192], w, b).toArray());
});

test("frozen parameters get no gradient; NaN rows stay NaN and leave the others alone", () => {
  manualSeed(5);
  const x = Tensor.randn([3, 40], { requiresGrad: true });
  const w = Tensor.randn([40]);
  const b = Tensor.randn([40]);
  autocast(() => F.layerNormForLinear(x, w, b)).float().sum().backward();
  assert.ok(x.grad, "the input still gets its gradient");
  assert.equal(w.grad, null);
  const rows = Tensor.randn([3, 40]).toArray();
  rows[45] = NaN;
  const y = autocast(() => F.layerNormForLinear(Tensor.from(rows, [3, 40]), w, b)).float().toArray();
  assert.ok(y.slice(40, 80).every(Number.isNaN), "the row with a NaN is NaN");
  assert.ok([...y.slice(0, 40), ...y.slice(80)].every(Number.isFinite), "the other rows are finite");
});

test("LayerNorm({ feedsLinear }) uses it; PFT_FUSED_LAYER_NORM=0 composes the same values", () => {
  manualSeed(6);
  const norm = new LayerNorm(24, { eps: 1e-6, feedsLinear: true });
  const x = Tensor.randn([5, 24]);
  assert.equal(autocast(() => norm.forward(x)).dtype, "bfloat16");
  assert.equal(autocast(() => new LayerNorm(24).forward(x)).dtype, "float32", "by default a norm keeps PyTorch's float32 output");

  const script = `
    const { Tensor, F, autocast, manualSeed, engineInfo } = await import(ENGINE);
    manualSeed(9);
    const x = Tensor.randn([6, 65, 48]).mul(3);
    const w = Tensor.randn([48]);
    const b = Tensor.randn([48]);
    const y = autocast(() => F.layerNormForLinear(x, w, b, 1e-6));
    console.log(JSON.stringify({ fused: engineInfo().fusedLayerNorm, dtype: y.dtype, y: y.float().toArray() }));`;
  const out = (env: Record<string, string>) => {
    const r = runEngineScript(script, env);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { fused: boolean; dtype: string; y: number[] };
  };
  const fused = out({});
  const composed = out({ PFT_FUSED_LAYER_NORM: "0" });
  assert.equal(fused.fused, true);
  assert.equal(composed.fused, false);
  assert.equal(composed.dtype, "bfloat16", "composed, the output is still the bf16 cast");
  assertBf16Close(fused.y, composed.y, "fused against composed");
});
