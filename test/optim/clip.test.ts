// clipGradNorm against torch.nn.utils.clip_grad_norm_ 1.13: the returned total norm and the
// clipped gradients, for p = 2, 1, 3 and inf, with clipping active and inactive.
import { test } from "node:test";
import assert from "node:assert/strict";
import { liveTensors, scope, Tensor } from "../../src/engine/index.js";
import { Parameter, type NamedParameter } from "../../src/nn/parameter.js";
import { clipGradNorm } from "../../src/optim/index.js";
import { isPftError } from "../../src/errors.js";
import { runTorch, diff } from "../helpers/reference.js";

const SHAPES: [string, number[]][] = [
  ["blocks.0.attn.qkv.weight", [8, 5]],
  ["blocks.0.attn.qkv.bias", [8]],
  ["blocks.0.mlp.fc1.weight", [3, 4, 5]],
  ["cls_token", [1, 1, 5]],
  ["head.weight", [2, 5]], // frozen: no grad
];
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Deterministic float32 gradients in [-2, 2) from a sine hash (no PRNG state needed).
const GRADS: Record<string, number[]> = Object.fromEntries(
  SHAPES.filter(([n]) => n !== "head.weight").map(([n, s], j) => [n, Array.from({ length: numel(s) }, (_, i) => Math.fround(4 * (Math.abs(Math.sin(i * 12.9898 + j * 78.233) * 43758.5453) % 1) - 2))]),
);

const CASES: { maxNorm: number; normType: number }[] = [
  { maxNorm: 1, normType: 2 }, // clips (total norm ~ 9)
  { maxNorm: 100, normType: 2 }, // coef clamped to 1: grads unchanged
  { maxNorm: 0.5, normType: 1 },
  { maxNorm: 2, normType: 3 },
  { maxNorm: 0.25, normType: Infinity },
];

const PY = `
import json, sys, torch
inp = json.load(sys.stdin)
out = []
for c in inp["cases"]:
    params = []
    for n, shape in inp["shapes"]:
        p = torch.zeros(shape, requires_grad=n in inp["grads"])
        if n in inp["grads"]:
            p.grad = torch.tensor(inp["grads"][n], dtype=torch.float32).reshape(shape)
        params.append(p)
    nt = float("inf") if c["normType"] == "inf" else c["normType"]
    total = torch.nn.utils.clip_grad_norm_(params, c["maxNorm"], nt)
    out.append(dict(total=total.item(), grads=[p.grad.reshape(-1).tolist() for p in params if p.grad is not None]))
print(json.dumps(out))
`;

function makeParams(): NamedParameter[] {
  return SHAPES.map(([name, shape]) => {
    const param = new Parameter(Tensor.zeros(shape), name !== "head.weight");
    if (GRADS[name]) scope(() => void (param.value.grad = Tensor.from(GRADS[name], shape)));
    return { name, param };
  });
}

test("clipGradNorm matches torch.nn.utils.clip_grad_norm_ (total norm and clipped grads)", () => {
  const ref = runTorch<{ total: number; grads: number[][] }[]>(PY, {
    cases: CASES.map((c) => ({ ...c, normType: c.normType === Infinity ? "inf" : c.normType })),
    shapes: SHAPES,
    grads: GRADS,
  });
  CASES.forEach((c, i) => {
    const ps = makeParams();
    const total = clipGradNorm(ps, c.maxNorm, c.normType);
    const grads = ps.filter((np) => np.param.grad !== null).map((np) => scope(() => np.param.grad!.data() as Float32Array));
    assert.equal(grads.length, ref[i].grads.length);
    let maxRel = Math.abs(total - ref[i].total) / ref[i].total;
    grads.forEach((g, j) => (maxRel = Math.max(maxRel, diff(g, ref[i].grads[j], 1e-3).maxRel)));
    console.log(`clipGradNorm(maxNorm ${c.maxNorm}, p ${c.normType}): total ${total.toFixed(6)} (torch ${ref[i].total.toFixed(6)}), max rel diff ${maxRel.toExponential(2)}`);
    // Same float32 kernels in the same order (norm per grad, norm of the stack, reciprocal * max_norm,
    // clamp, mul_): bit-identical is expected; 1e-6 allows a few float32 ulps in the reductions.
    assert.ok(maxRel < 1e-6, `max relative difference ${maxRel}`);
    if (c.maxNorm > total) assert.deepEqual(grads[0], Float32Array.from(GRADS["blocks.0.attn.qkv.weight"]), "no clipping expected");
    else assert.ok(Math.abs(grads[0][0]) < Math.abs(GRADS["blocks.0.attn.qkv.weight"][0]), "clipping expected");
    for (const np of ps) np.param.dispose();
  });
});

test("clipGradNorm: no gradients gives 0, frees its temporaries, rejects bad arguments", () => {
  const frozen = [{ name: "w", param: new Parameter(Tensor.ones([3]), false) }];
  assert.equal(clipGradNorm(frozen, 1), 0);
  const ps = makeParams();
  clipGradNorm(ps, 1);
  const live = liveTensors();
  clipGradNorm(ps, 1);
  clipGradNorm(ps.map((np) => np.param), 1, Infinity);
  assert.equal(liveTensors(), live, "clipGradNorm leaked tensors");
  assert.throws(() => clipGradNorm(ps, Number.NaN), (e: unknown) => isPftError(e) && e.code === "argument");
  assert.throws(() => clipGradNorm(ps, 1, 0), (e: unknown) => isPftError(e) && e.code === "argument");
});
