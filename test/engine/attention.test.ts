// F.attention: the fused kernel (native/attention.cc) against the same function composed from
// ATen ops, at shapes the op table does not cover; that it really runs fused (no bmm in a
// profile); bf16 and the fallback switch; and clear errors. Values against PyTorch and gradients
// against finite differences are in ops.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor, F, noGrad, autocast, manualSeed, profile, engineInfo, PftError } from "../../src/index.js";
import { assertClose, runEngineScript } from "../helpers/reference.js";

function fusedAndComposed(shape: [number, number, number], heads: number, mul = 1) {
  const x = Tensor.randn(shape).mul(mul);
  const g = Tensor.randn([shape[0], shape[1], shape[2] / 3]);
  const run = (fused: boolean) => {
    const xi = x.detach().requiresGrad_(true);
    const out = F.attention(xi, heads, { fused });
    out.backward(g);
    return { out: out.toArray(), grad: xi.grad!.toArray() };
  };
  return { fused: run(true), composed: run(false) };
}

test("fused attention equals the composed one, values and gradients, at ViT shapes", () => {
  manualSeed(1);
  // the bench ViT's attention (65 tokens, 3 heads of 64), an odd token count, one head, one token
  const cases: [[number, number, number], number][] = [
    [[4, 65, 576], 3],
    [[3, 37, 3 * 4 * 8], 4],
    [[2, 5, 3 * 16], 1],
    [[2, 1, 3 * 2 * 8], 2],
  ];
  for (const [shape, heads] of cases) {
    const { fused, composed } = fusedAndComposed(shape, heads);
    assertClose(fused.out, composed.out, 1e-4, 1e-5, `output ${shape}`);
    assertClose(fused.grad, composed.grad, 1e-4, 1e-5, `gradient ${shape}`);
  }
});

test("fused attention stays finite and exact where scores are large (the softmax subtracts the row max)", () => {
  manualSeed(2);
  const { fused, composed } = fusedAndComposed([2, 20, 3 * 2 * 8], 2, 30);
  assert.ok(fused.out.every(Number.isFinite) && fused.grad.every(Number.isFinite));
  assertClose(fused.out, composed.out, 1e-4, 1e-4, "output");
  assertClose(fused.grad, composed.grad, 1e-3, 1e-3, "gradient");
});

test("the fused path runs no ATen GEMM or softmax (profiled); the composed one does", () => {
  assert.equal(engineInfo().fusedAttention, true);
  const dir = mkdtempSync(join(tmpdir(), "pft-attn-"));
  try {
    const x = Tensor.randn([2, 9, 3 * 2 * 8], { requiresGrad: true });
    const opsOf = (fused: boolean) => {
      const trace = join(dir, `${fused}.json`);
      profile(trace, () => F.attention(x, 2, { fused }).sum().backward());
      const events = JSON.parse(readFileSync(trace, "utf8")) as { name: string }[];
      return new Set(events.map((e) => e.name));
    };
    const fused = opsOf(true);
    const composed = opsOf(false);
    for (const op of ["aten::bmm", "aten::_softmax"]) {
      assert.ok(!fused.has(op), `fused path ran ${op}`);
      assert.ok(composed.has(op), `composed path did not run ${op}`);
    }
    for (const op of ["aten::matmul", "aten::mm", "aten::baddbmm"]) assert.ok(!fused.has(op), `fused path ran ${op}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bf16 (autocast) attention is composed, stays bf16 and is close to float32", () => {
  manualSeed(3);
  const x = Tensor.randn([2, 17, 3 * 2 * 16]);
  const ref = F.attention(x, 2).toArray();
  const xb = x.to("bfloat16").requiresGrad_(true);
  const out = autocast(() => F.attention(xb, 2));
  assert.equal(out.dtype, "bfloat16");
  assertClose(out.toArray(), ref, 3e-2, 3e-2, "bf16 output");
  out.float().sum().backward();
  assert.equal(xb.grad!.dtype, "bfloat16");
});

test("PFT_FUSED_ATTENTION=0 composes every attention, with the same values", () => {
  const script = `
    const { Tensor, F, manualSeed, engineInfo } = await import(ENGINE);
    manualSeed(5);
    const x = Tensor.randn([2, 7, 48]);
    console.log(JSON.stringify({ fused: engineInfo().fusedAttention, out: F.attention(x, 2).toArray() }));`;
  const run = (env: Record<string, string>) => {
    const r = runEngineScript(script, env);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { fused: boolean; out: number[] };
  };
  const off = run({ PFT_FUSED_ATTENTION: "0" });
  const on = run({});
  assert.equal(off.fused, false);
  assert.equal(on.fused, true);
  assertClose(on.out, off.out, 1e-5, 1e-6, "fused vs composed in two processes");
});

test("attention errors are one clear line naming the problem", () => {
  const isEngine = (re: RegExp) => (e: unknown) => e instanceof PftError && e.code === "engine" && re.test((e as Error).message);
  assert.throws(() => F.attention(Tensor.randn([2, 5, 10]), 2), isEngine(/^attention: last dimension 10 is not 3 \* heads \* head_dim for 2 heads/));
  assert.throws(() => F.attention(Tensor.randn([5, 12]), 2), isEngine(/^attention: qkv must be \[batch, tokens, 3 \* dim\]/));
  assert.throws(() => F.attention(Tensor.zeros([1, 2, 6], { dtype: "int64" }), 1), isEngine(/^attention: qkv must be float32, bfloat16 or float64/));
  const x = Tensor.randn([1, 2, 6]);
  x.dispose();
  assert.throws(() => F.attention(x, 1), (e: unknown) => e instanceof PftError && e.code === "disposed");
  assert.throws(() => F.attention(Tensor.randn([1, 2, 6]), 1, { dropout: 1 }), isEngine(/^attention: dropout must be in \[0, 1\), got 1/));
  noGrad(() => assert.equal(F.attention(Tensor.randn([1, 3, 6]), 1).requiresGrad, false));
});
