// The engine beyond single ops: autograd modes, mixed precision, scopes and native memory,
// randomness, error handling, and a small training loop that must actually learn.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  F,
  scope,
  noGrad,
  enableGrad,
  isGradEnabled,
  autocast,
  isAutocastEnabled,
  liveTensors,
  manualSeed,
  getRngState,
  setRngState,
  engineInfo,
  describeEngine,
  blasWarning,
  getNumThreads,
  setNumThreads,
  PftError,
} from "../../src/index.js";
import { runTorch, assertClose } from "../helpers/reference.js";

const isPft = (code: string) => (e: unknown) => e instanceof PftError && e.code === code;

test("noGrad records no history and restores the mode, also on throw", () => {
  const w = Tensor.randn([3], { requiresGrad: true });
  const y = noGrad(() => w.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.equal(isGradEnabled(), true);
  assert.throws(() => noGrad(() => { throw new Error("boom"); }), /boom/);
  assert.equal(isGradEnabled(), true);
  const z = noGrad(() => enableGrad(() => w.mul(2)));
  assert.equal(z.requiresGrad, true);
});

test("gradients accumulate across backward calls and zeroGrad drops them", () => {
  const w = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  w.mul(w).sum().backward();
  w.mul(w).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [4, 8, 12]);
  w.zeroGrad();
  assert.equal(w.grad, null);
  assert.equal(w.isLeaf, true);
  assert.equal(w.mul(2).isLeaf, false);
});

test("detach shares storage and cuts the graph", () => {
  const w = Tensor.randn([4], { requiresGrad: true });
  const d = w.detach();
  assert.equal(d.requiresGrad, false);
  assert.ok(d.sharesStorageWith(w));
});

test("backward through a frozen input computes no gradient for it", () => {
  const frozen = Tensor.randn([3, 3]);
  const trainable = Tensor.randn([3, 3], { requiresGrad: true });
  frozen.matmul(trainable).sum().backward();
  assert.equal(frozen.grad, null);
  assert.ok(trainable.grad);
});

test("bf16 autocast: linear runs in bfloat16, weights and their grads stay float32, as in PyTorch", () => {
  manualSeed(7);
  const x = Tensor.randn([4, 8]);
  const w = Tensor.randn([6, 8], { requiresGrad: true });
  const b = Tensor.randn([6], { requiresGrad: true });
  const { out, soft } = autocast(() => {
    assert.equal(isAutocastEnabled(), true);
    const out = F.linear(x, w, b);
    return { out, soft: F.layerNorm(out, [6]) };
  });
  assert.equal(isAutocastEnabled(), false);
  assert.equal(out.dtype, "bfloat16");
  soft.float().sum().backward();
  assert.equal(w.grad!.dtype, "float32");

  const ref = runTorch<{ out: number[]; outDtype: string; soft: number[]; softDtype: string; gw: number[] }>(
    `
import json, sys, torch, torch.nn.functional as F
d = json.load(sys.stdin)
x = torch.tensor(d["x"]).reshape(4, 8); w = torch.tensor(d["w"]).reshape(6, 8).requires_grad_(); b = torch.tensor(d["b"]).requires_grad_()
with torch.autocast("cpu", dtype=torch.bfloat16):
    out = F.linear(x, w, b)
    soft = F.layer_norm(out, (6,))
soft.float().sum().backward()
print(json.dumps({"out": out.float().flatten().tolist(), "outDtype": str(out.dtype), "soft": soft.float().flatten().tolist(),
  "softDtype": str(soft.dtype), "gw": w.grad.flatten().tolist()}))
`,
    { x: x.toArray(), w: w.toArray(), b: b.toArray() },
  );
  assert.equal(`torch.${out.dtype}`, ref.outDtype);
  assert.equal(`torch.${soft.dtype}`, ref.softDtype);
  assertClose(out.toArray(), ref.out, 0, 0, "autocast linear (same kernels: bit-identical)");
  assertClose(soft.toArray(), ref.soft, 1e-6, 1e-6, "autocast layer_norm");
  assertClose(w.grad!.toArray(), ref.gw, 1e-5, 1e-5, "weight grad");
});

test("autocast restores the previous state when the function throws", () => {
  assert.throws(() => autocast(() => { throw new Error("inner"); }), /inner/);
  assert.equal(isAutocastEnabled(), false);
  const y = autocast(() => F.linear(Tensor.randn([2, 3]), Tensor.randn([2, 3])), { enabled: false });
  assert.equal(y.dtype, "float32");
});

test("scope frees temporaries, keeps what it returns, and frees everything on throw", () => {
  const base = liveTensors();
  const x = Tensor.randn([8, 8]);
  const kept = scope(() => {
    const a = x.mul(2).add(1).relu();
    const inner = scope(() => [a.sum(), a.mean()]);
    assert.equal(inner.length, 2);
    return { total: inner[0], max: a.amax() };
  });
  assert.equal(liveTensors() - base, 3, "x, total and max survive");
  assert.equal(kept.total.isDisposed, false);
  assert.throws(() => scope(() => { x.mul(3); x.mul(4); throw new Error("fail"); }), /fail/);
  assert.equal(liveTensors() - base, 3);
  kept.total.dispose();
  kept.max.dispose();
  x.dispose();
  assert.equal(liveTensors(), base);
});

test("10,000 scoped ops leave no native tensors behind and bounded process memory", () => {
  const x = Tensor.randn([64, 64]);
  const w = Tensor.randn([64, 64], { requiresGrad: true });
  const step = () => scope(() => { F.linear(x, w).relu().sum().backward(); w.zeroGrad(); });
  for (let i = 0; i < 200; i++) step(); // warm up allocator caches
  const base = liveTensors();
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < 2000; i++) step(); // 5 ops each: 10,000 ops
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.equal(liveTensors(), base, "every temporary was freed");
  // 10,000 leaked 16 KiB outputs alone would be ~160 MiB; allow allocator noise only.
  assert.ok(grownMiB < 32, `process memory grew by ${grownMiB.toFixed(1)} MiB`);
});

test("manualSeed makes sampling repeatable and the RNG state can be saved and restored", () => {
  manualSeed(42);
  const a = Tensor.randn([5]).toArray();
  manualSeed(42);
  assert.deepEqual(Tensor.randn([5]).toArray(), a);
  const state = getRngState();
  const next = Tensor.rand([5]).toArray();
  Tensor.rand([3]);
  setRngState(state);
  assert.deepEqual(Tensor.rand([5]).toArray(), next);
  const ref = runTorch<number[]>(`import torch, json; torch.manual_seed(42); print(json.dumps(torch.randn(5).tolist()))`);
  assertClose(a, ref, 0, 0, "same generator as PyTorch");
});

test("data round-trips for every dtype", () => {
  assert.deepEqual(Tensor.from([1.5, -2, 3.25], [3], { dtype: "bfloat16" }).toArray(), [1.5, -2, 3.25]);
  assert.deepEqual(Tensor.from([1.5, -2], [2], { dtype: "float16" }).toArray(), [1.5, -2]);
  assert.deepEqual(Array.from(Tensor.from([2 ** 40, -3], [2], { dtype: "int64" }).data() as BigInt64Array), [2n ** 40n, -3n]);
  assert.deepEqual(Tensor.from([1, 0, 1], [3], { dtype: "bool" }).toArray(), [1, 0, 1]);
  assert.deepEqual(Tensor.from(new Float64Array([0.1, 0.2])).toArray(), [0.1, 0.2]);
  const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = Tensor.fromBytes(t.bytes(), [3, 2], "float32");
  assert.deepEqual(b.toArray(), [1, 2, 3, 4, 5, 6]);
  assert.equal(Tensor.scalar(3).item(), 3);
  assert.deepEqual(Tensor.arange(4).toArray(), [0, 1, 2, 3]);
  assert.equal(Tensor.arange(4).dtype, "int64");
});

test("bad input gives a clear PftError, never a crash", () => {
  const x = Tensor.randn([2, 3]);
  assert.throws(() => x.add(Tensor.randn([4])), (e: unknown) => isPft("engine")(e) && /add: .*size of tensor a \(3\) must match.*\(4\)/.test((e as Error).message));
  assert.throws(() => x.matmul(Tensor.randn([4, 2])), (e: unknown) => isPft("engine")(e) && /^matmul: /.test((e as Error).message));
  assert.throws(() => x.matmul(Tensor.ones([3, 2], { dtype: "int64" })), isPft("engine"));
  assert.throws(() => Tensor.from([1, 2, 3], [2, 2]), (e: unknown) => isPft("shape")(e) && /3 values do not fill shape \[2, 2\]/.test((e as Error).message));
  assert.throws(() => Tensor.zeros([2, -1]), isPft("shape"));
  assert.throws(() => Tensor.zeros([2], { dtype: "float8" as never }), (e: unknown) => isPft("engine")(e) && /unknown dtype 'float8'/.test((e as Error).message));
  assert.throws(() => Tensor.ones([2], { dtype: "int64" }).requiresGrad_(true), isPft("engine"));
  assert.throws(() => Tensor.randn([2]).backward(), (e: unknown) => isPft("engine")(e) && /does not require grad/.test((e as Error).message));
  assert.throws(() => x.item(), /one element/);
  assert.throws(() => x.to("cuda"), isPft("engine"));
  x.dispose();
  assert.throws(() => x.sum(), (e: unknown) => isPft("disposed")(e) && /after dispose/.test((e as Error).message));
  assert.throws(() => Tensor.randn([2]).add(x), isPft("disposed"));
  x.dispose(); // twice is fine
  assert.match(String(x), /disposed/);
});

test("engine reports its BLAS, threads and bf16 support", () => {
  const info = engineInfo();
  assert.match(info.torchVersion, /^\d+\.\d+/);
  assert.ok(info.threads >= 1);
  assert.equal(info.blasKind, "openblas", `active BLAS: ${info.blasLibrary}`);
  // setup.sh makes OpenBLAS's OpenMP build the active one: it shares libtorch's thread pool
  assert.equal(info.blasThreading, "openmp", `active BLAS: ${info.blasLibrary}`);
  assert.equal(blasWarning(info), null);
  assert.equal(blasWarning({ ...info, blasThreading: "pthreads", threads: 2 })?.includes("libopenblas0-openmp"), true);
  assert.equal(info.fusedAttention, true, "Debian's libtorch links libdnnl, whose GEMM the fused attention uses");
  assert.equal(info.fusedAttentionBf16, info.cpuBf16, "the bf16 attention kernel runs wherever the CPU has AVX-512 BF16");
  assert.ok(info.cpuCache.limitBytes > 0, "the caching CPU allocator is installed");
  // The addon's fused kernels split their work over libtorch's OpenMP threads (binding.gyp's -fopenmp).
  const before = getNumThreads();
  try {
    setNumThreads(2);
    assert.equal(engineInfo().kernelThreads, 2, "a parallel loop in the addon's own kernels runs on both threads");
    setNumThreads(1);
    assert.equal(engineInfo().kernelThreads, 1);
  } finally {
    setNumThreads(before);
  }
  assert.match(describeEngine(info), /OpenBLAS \(OpenBLAS [\d.]+, openmp, .*caching allocator.*fused attention/);
});

test("a small MLP learns a nonlinear task (loss and accuracy asserted)", () => {
  manualSeed(0);
  // Two interleaved rings: not linearly separable, so the hidden layer must do real work.
  const n = 256;
  const pts: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const r = cls ? 2 : 0.8;
    const a = (i / n) * 2 * Math.PI * 7;
    pts.push(r * Math.cos(a) + 0.1 * Math.sin(3 * i), r * Math.sin(a) + 0.1 * Math.cos(5 * i));
    labels.push(cls);
  }
  const x = Tensor.from(pts, [n, 2]);
  const y = Tensor.from(labels, [n], { dtype: "int64" });
  const w1 = Tensor.randn([32, 2]).mul(0.5).keep().requiresGrad_();
  const b1 = Tensor.zeros([32], { requiresGrad: true });
  const w2 = Tensor.randn([2, 32]).mul(0.2).keep().requiresGrad_();
  const b2 = Tensor.zeros([2], { requiresGrad: true });
  const params = [w1, b1, w2, b2];
  const forward = () => F.linear(F.linear(x, w1, b1).gelu(), w2, b2);
  let first = 0;
  let last = 0;
  for (let it = 0; it < 300; it++) {
    last = scope(() => {
      const loss = F.crossEntropy(forward(), y);
      loss.backward();
      noGrad(() => params.forEach((p) => { p.sub_(p.grad!, 0.5); p.zeroGrad(); }));
      return loss.item();
    });
    if (it === 0) first = last;
  }
  const acc = noGrad(() => forward().argmax(1).eq(y).float().mean().item());
  assert.ok(last < 0.15 && last < first / 4, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.ok(acc > 0.95, `accuracy ${acc}`);
});

test("layerNorm of bf16 activations with float32 weights normalises in float32 (libtorch 1.13 refuses the mix)", () => {
  const x = Tensor.randn([3, 8]);
  const w = Tensor.randn([8]);
  const b = Tensor.randn([8]);
  const y = F.layerNorm(x.to("bfloat16"), [8], w, b);
  assert.equal(y.dtype, "float32");
  assertClose(y.toArray(), F.layerNorm(x.to("bfloat16").float(), [8], w, b).toArray(), 0, 0, "same as upcasting first");
});

test("a backward with createGraph through a fused kernel stops with a clear error (its backward is not differentiable)", () => {
  const isDoubleBackward = (kernel: string, variable: string) => (e: unknown) =>
    e instanceof PftError && e.code === "engine" && new RegExp(`${kernel}: second derivatives \\(backward with createGraph\\) are not supported by the fused kernel; set ${variable}=0`).test(e.message);
  const x = Tensor.randn([2, 5, 48], { requiresGrad: true });
  const w = Tensor.randn([8, 48], { requiresGrad: true });
  const norm = { w: Tensor.ones([48], { requiresGrad: true }), b: Tensor.zeros([48], { requiresGrad: true }) };
  const cases: [string, string, () => Tensor][] = [
    ["gelu", "PFT_FUSED_GELU", () => x.gelu()],
    ["attention", "PFT_FUSED_ATTENTION", () => F.attention(x, 2)],
    ["attention", "PFT_FUSED_ATTENTION", () => F.attention(x.to("bfloat16"), 2)],
    ["linear", "PFT_DNNL_LINEAR", () => F.linear(x, w)],
    ["layer norm", "PFT_FUSED_LAYER_NORM", () => autocast(() => F.layerNormForLinear(x, norm.w, norm.b, 1e-6))],
  ];
  for (const [kernel, variable, run] of cases) {
    assert.throws(() => run().float().sum().backward(undefined, { createGraph: true }), isDoubleBackward(kernel, variable), kernel);
    run().float().sum().backward(); // a plain backward through the same kernel still works
  }
  // createGraph through libtorch's own ops is untouched: d/dx of x^3 = 3x^2 keeps its graph
  const y = Tensor.from([2], [1], { requiresGrad: true });
  y.mul(y).mul(y).sum().backward(undefined, { createGraph: true });
  assert.equal(y.grad!.toArray()[0], 12);
  assert.equal(y.grad!.requiresGrad, true);
});
