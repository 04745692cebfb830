// F.attention: the fused kernels (native/attention.cc, native/attention_bf16.cc) against the same
// function composed from ATen ops, at shapes the op table does not cover; the bf16 kernel against
// float64; that they really run fused (no bmm in a profile); the fallback switch; and clear
// errors. Values against PyTorch and gradients against finite differences are in ops.test.ts.
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

test("the fused paths (float32, bf16) run no ATen GEMM or softmax (profiled); the composed ones do", () => {
  assert.equal(engineInfo().fusedAttention, true);
  const dir = mkdtempSync(join(tmpdir(), "pft-attn-"));
  try {
    for (const dtype of ["float32", "bfloat16"] as const) {
      const x = Tensor.randn([2, 9, 3 * 2 * 8]).to(dtype).requiresGrad_(true);
      const opsOf = (fused: boolean) => {
        const trace = join(dir, `${dtype}-${fused}.json`);
        profile(trace, () => F.attention(x, 2, { fused }).float().sum().backward());
        const events = JSON.parse(readFileSync(trace, "utf8")) as { name: string }[];
        return new Set(events.map((e) => e.name));
      };
      const fused = opsOf(true);
      const composed = opsOf(false);
      for (const op of ["aten::bmm", "aten::_softmax"]) {
        assert.ok(!fused.has(op), `${dtype}: fused path ran ${op}`);
        assert.ok(composed.has(op), `${dtype}: composed path did not run ${op}`);
      }
      for (const op of ["aten::matmul", "aten::mm", "aten::baddbmm"]) assert.ok(!fused.has(op), `${dtype}: fused path ran ${op}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Mean absolute error over mean absolute value, and the largest absolute error. */
function errors(actual: number[], expected: number[]) {
  let sum = 0, norm = 0, max = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    sum += d;
    norm += Math.abs(expected[i]);
    max = Math.max(max, d);
  }
  return { rel: sum / norm, max };
}

// The same bf16 qkv and output gradient through the bf16 kernel, the composed bf16 path, and the
// composed float64 path (the exact result for those bf16 inputs).
function bf16AgainstFloat64(shape: [number, number, number], heads: number, mul = 1) {
  const x = Tensor.randn(shape).mul(mul).to("bfloat16");
  const g = Tensor.randn([shape[0], shape[1], shape[2] / 3]).to("bfloat16");
  const run = (dtype: "bfloat16" | "float64", fused: boolean) => {
    const xi = x.to(dtype).detach().requiresGrad_(true);
    const out = F.attention(xi, heads, { fused });
    assert.equal(out.dtype, dtype);
    out.backward(g.to(dtype));
    assert.equal(xi.grad!.dtype, dtype);
    return { out: out.to("float64").toArray(), grad: xi.grad!.to("float64").toArray() };
  };
  const exact = run("float64", false);
  const fused = run("bfloat16", true);
  const composed = run("bfloat16", false);
  return {
    fused: { out: errors(fused.out, exact.out), grad: errors(fused.grad, exact.grad) },
    composed: { out: errors(composed.out, exact.out), grad: errors(composed.grad, exact.grad) },
  };
}

test("bf16 attention runs fused, within bf16 rounding of float64 and closer to it than the composed path", () => {
  assert.equal(engineInfo().fusedAttentionBf16, true);
  manualSeed(3);
  // the bench ViT's; head sizes 8 and 24 (partial 16-lane blocks); odd token counts; one token;
  // 197 tokens (ViT-B/16 at 224: several column blocks of scores)
  const cases: [[number, number, number], number][] = [
    [[4, 65, 576], 3],
    [[3, 37, 3 * 4 * 8], 4],
    [[2, 33, 3 * 2 * 24], 2],
    [[2, 5, 3 * 16], 1],
    [[2, 1, 3 * 2 * 8], 2],
    [[2, 197, 3 * 2 * 64], 2],
    // ViT-H/14's head size 80 (a 64 + 16 column split) and 128 (two 64-column blocks)
    [[2, 17, 3 * 2 * 80], 2],
    [[1, 9, 3 * 1 * 128], 1],
  ];
  for (const [shape, heads] of cases) {
    const e = bf16AgainstFloat64(shape, heads);
    const at = `${shape} / ${heads} heads`;
    // bf16 keeps 8 significant bits: one rounding is at most 2^-9 relative, 2^-10 on average
    assert.ok(e.fused.out.rel < 3e-3 && e.fused.grad.rel < 3e-3, `${at}: fused errors ${JSON.stringify(e.fused)}`);
    assert.ok(e.fused.out.rel <= e.composed.out.rel, `${at}: output error ${e.fused.out.rel} vs composed ${e.composed.out.rel}`);
    assert.ok(e.fused.grad.rel <= e.composed.grad.rel, `${at}: gradient error ${e.fused.grad.rel} vs composed ${e.composed.grad.rel}`);
  }
  // A view that is not contiguous (qkv transposed from [N, B, 3C]) is made contiguous first.
  const xt = Tensor.randn([7, 3, 96]).to("bfloat16");
  const view = xt.transpose(0, 1);
  assertClose(F.attention(view, 2).float().toArray(), F.attention(view.contiguous(), 2).float().toArray(), 0, 0, "transposed view");
  // Large scores: the composed path rounds them to bf16 before the softmax, the kernel does not.
  const large = bf16AgainstFloat64([2, 20, 3 * 2 * 8], 2, 6);
  assert.ok(large.fused.out.rel < 3e-3, JSON.stringify(large));
  assert.ok(large.fused.grad.rel < large.composed.grad.rel, JSON.stringify(large));
});

test("bf16 attention under autocast stays bf16, is close to float32 and propagates NaN by row", () => {
  manualSeed(4);
  const x = Tensor.randn([2, 17, 3 * 2 * 16]);
  const ref = F.attention(x, 2).toArray();
  const xb = x.to("bfloat16").requiresGrad_(true);
  const out = autocast(() => F.attention(xb, 2));
  assert.equal(out.dtype, "bfloat16");
  assertClose(out.toArray(), ref, 3e-2, 3e-2, "bf16 output");
  out.float().sum().backward();
  assert.equal(xb.grad!.dtype, "bfloat16");
  assert.ok(xb.grad!.float().toArray().every(Number.isFinite));
  // A NaN in token 3's query of head 0 (batch 0): that token's head-0 output is NaN, the rest not.
  const values = x.toArray();
  values[3 * 96 + 5] = NaN;
  const withNaN = F.attention(Tensor.from(values, [2, 17, 96]).to("bfloat16"), 2).float().toArray();
  for (let t = 0; t < 17; t++) {
    for (let c = 0; c < 32; c++) {
      const v = withNaN[t * 32 + c];
      assert.equal(Number.isNaN(v), t === 3 && c < 16, `token ${t} channel ${c}: ${v}`);
    }
  }
});

test("bf16 attention with an odd head size is composed, and correct", () => {
  manualSeed(6);
  const x = Tensor.randn([2, 5, 3 * 2 * 3]);
  const ref = F.attention(x, 2).toArray();
  const out = F.attention(x.to("bfloat16"), 2);
  assert.equal(out.dtype, "bfloat16");
  assertClose(out.float().toArray(), ref, 3e-2, 3e-2, "head size 3");
});

test("PFT_FUSED_ATTENTION=0 composes every attention (float32 and bf16), with the same values", () => {
  const script = `
    const { Tensor, F, manualSeed, engineInfo } = await import(ENGINE);
    manualSeed(5);
    const x = Tensor.randn([2, 7, 48]);
    const info = engineInfo();
    console.log(JSON.stringify({ fused: info.fusedAttention, fusedBf16: info.fusedAttentionBf16,
      out: F.attention(x, 2).toArray(), outBf16: F.attention(x.to("bfloat16"), 2).float().toArray() }));`;
  const run = (env: Record<string, string>) => {
    const r = runEngineScript(script, env);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { fused: boolean; fusedBf16: boolean; out: number[]; outBf16: number[] };
  };
  const off = run({ PFT_FUSED_ATTENTION: "0" });
  const on = run({});
  assert.deepEqual([off.fused, off.fusedBf16], [false, false]);
  assert.deepEqual([on.fused, on.fusedBf16], [true, true]);
  assertClose(on.out, off.out, 1e-5, 1e-6, "fused vs composed in two processes");
  assertClose(on.outBf16, off.outBf16, 2e-2, 2e-2, "bf16 fused vs composed in two processes");
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
