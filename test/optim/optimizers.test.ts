// AdamW and SGD against torch.optim 1.13 (foreach=False) over 100 steps of the same gradient
// stream, plus frozen parameters, skipped gradients, state dicts and bit-exact resume.
//
// The parameters and gradients come from a seeded PRNG here, rounded to float32, and travel to
// the Python reference as JSON; Python returns float32 values as exact doubles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { liveTensors, scope, Tensor } from "../../src/engine/index.js";
import { Parameter, type NamedParameter } from "../../src/nn/parameter.js";
import { AdamW, SGD, Optimizer, warmupCosine, type ParamGroup, type OptimizerStateDict } from "../../src/optim/index.js";
import { isPftError } from "../../src/errors.js";
import { runTorch, diff } from "../helpers/reference.js";

// ------------------------------------------------------------------ fixtures

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

/** float32-representable normal samples (Box-Muller). */
function normals(rand: () => number, n: number, scale: number): number[] {
  return Array.from({ length: n }, () => Math.fround(scale * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())));
}

const SHAPES: Record<string, number[]> = {
  "blocks.0.attn.qkv.weight": [6, 4],
  "blocks.0.attn.qkv.bias": [6],
  "blocks.0.mlp.fc1.weight": [2, 3, 4],
  "norm.weight": [4],
  cls_token: [1, 1, 4],
  "head.weight": [3, 4],
};
const FROZEN = new Set(["head.weight"]);
/** Has no gradient on steps where step % 7 === 3 (torch skips it then, and so must we). */
const SOMETIMES_NO_GRAD = "norm.weight";
const STEPS = 100;
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

const rand = mulberry32(1234);
const INIT: Record<string, number[]> = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, normals(rand, numel(s), 0.5)]));
const GRADS: Record<string, number[] | null>[] = Array.from({ length: STEPS }, (_, step) =>
  Object.fromEntries(
    Object.entries(SHAPES)
      .filter(([n]) => !FROZEN.has(n))
      .map(([n, s]) => [n, n === SOMETIMES_NO_GRAD && step % 7 === 3 ? null : normals(rand, numel(s), 0.1 * (1 + (step % 5)))]),
  ),
);

function makeParams(init: Record<string, ArrayLike<number>> = INIT): NamedParameter[] {
  return Object.entries(SHAPES).map(([name, shape]) => ({ name, param: new Parameter(Tensor.from(init[name], shape), !FROZEN.has(name)) }));
}
const byName = (ps: NamedParameter[], n: string) => ps.find((p) => p.name === n)!;

/** Group 0: matrices (+ the frozen head); group 1: 1-D and token params. */
function groupsOf(ps: NamedParameter[], hyper: [Omit<ParamGroup, "params">, Omit<ParamGroup, "params">]): ParamGroup[] {
  const g0 = ["blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.weight", "head.weight"];
  const g1 = ["blocks.0.attn.qkv.bias", "norm.weight", "cls_token"];
  return [
    { params: g0.map((n) => byName(ps, n)), ...hyper[0] },
    { params: g1.map((n) => byName(ps, n)), ...hyper[1] },
  ];
}

function setGrads(ps: NamedParameter[], grads: Record<string, number[] | null>): void {
  scope(() => {
    for (const np of ps) {
      const g = grads[np.name];
      np.param.value.grad = g ? Tensor.from(g, SHAPES[np.name]) : null;
    }
  });
}

// ------------------------------------------------------------------ parity cases

interface Case {
  id: string;
  torch: "AdamW" | "SGD";
  /** torch keyword arguments (the optimizer's defaults) */
  kwargs: Record<string, unknown>;
  /** torch per-group keys */
  groups: [Record<string, number>, Record<string, number>];
  make: (ps: NamedParameter[]) => Optimizer;
}

const CASES: Case[] = [
  {
    id: "adamw",
    torch: "AdamW",
    kwargs: {},
    groups: [{ lr: 1e-2, weight_decay: 0.05 }, { lr: 3e-3, weight_decay: 0 }],
    make: (ps) => new AdamW(groupsOf(ps, [{ lr: 1e-2, weightDecay: 0.05 }, { lr: 3e-3, weightDecay: 0 }])),
  },
  {
    // non-default betas/eps; group 1 takes the default lr and weight decay (torch's 1e-3 and 1e-2)
    id: "adamw-betas",
    torch: "AdamW",
    kwargs: { betas: [0.8, 0.95], eps: 1e-6 },
    groups: [{ lr: 2e-2, weight_decay: 0.1 }, {}],
    make: (ps) => new AdamW(groupsOf(ps, [{ lr: 2e-2, weightDecay: 0.1 }, {}]), { betas: [0.8, 0.95], eps: 1e-6 }),
  },
  {
    id: "sgd-momentum",
    torch: "SGD",
    kwargs: { lr: 0.05, momentum: 0.9, dampening: 0.1 },
    groups: [{ weight_decay: 1e-3 }, { lr: 0.02, weight_decay: 0 }],
    make: (ps) => new SGD(groupsOf(ps, [{ weightDecay: 1e-3 }, { lr: 0.02, weightDecay: 0 }]), { lr: 0.05, momentum: 0.9, dampening: 0.1 }),
  },
  {
    id: "sgd-nesterov",
    torch: "SGD",
    kwargs: { lr: 0.03, momentum: 0.9, nesterov: true, weight_decay: 5e-4 },
    groups: [{}, { lr: 0.01, weight_decay: 1e-2 }],
    make: (ps) => new SGD(groupsOf(ps, [{}, { lr: 0.01, weightDecay: 1e-2 }]), { lr: 0.03, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }),
  },
  {
    id: "sgd-plain",
    torch: "SGD",
    kwargs: { lr: 0.1, weight_decay: 1e-2 },
    groups: [{}, { lr: 0.05 }],
    make: (ps) => new SGD(groupsOf(ps, [{}, { lr: 0.05 }]), { lr: 0.1, weightDecay: 1e-2 }),
  },
];

const PY = `
import json, sys, torch
torch.set_num_threads(1)
inp = json.load(sys.stdin)
out = {}
for case in inp["cases"]:
    params = {n: torch.tensor(v, dtype=torch.float32).reshape(inp["shapes"][n]) for n, v in inp["init"].items()}
    for n, p in params.items():
        p.requires_grad_(n not in inp["frozen"])
    groups = [dict(params=[params[n] for n in names], **hyper) for names, hyper in zip(inp["groupNames"], case["groups"])]
    cls = getattr(torch.optim, case["torch"])
    opt = cls(groups, foreach=False, **case["kwargs"])
    for grads in inp["grads"]:
        for n, p in params.items():
            g = grads.get(n)
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(p.shape)
        opt.step()
    state = {}
    for n, p in params.items():
        for k, v in opt.state.get(p, {}).items():
            if k != "step" and v is not None:
                state[n + "." + k] = v.reshape(-1).tolist()
    steps = {n: float(opt.state[p]["step"]) for n, p in params.items() if "step" in opt.state.get(p, {})}
    out[case["id"]] = dict(params={n: p.detach().reshape(-1).tolist() for n, p in params.items()}, state=state, steps=steps)
print(json.dumps(out))
`;

interface TorchOut {
  params: Record<string, number[]>;
  state: Record<string, number[]>;
  steps: Record<string, number>;
}

let torchOut: Record<string, TorchOut> | null = null;
function reference(): Record<string, TorchOut> {
  torchOut ??= runTorch<Record<string, TorchOut>>(PY, {
    cases: CASES.map(({ id, torch, kwargs, groups }) => ({ id, torch, kwargs, groups })),
    shapes: SHAPES,
    init: INIT,
    frozen: [...FROZEN],
    groupNames: [
      ["blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.weight", "head.weight"],
      ["blocks.0.attn.qkv.bias", "norm.weight", "cls_token"],
    ],
    grads: GRADS,
  });
  return torchOut;
}

function run(make: (ps: NamedParameter[]) => Optimizer, steps: number, ps = makeParams(), from = 0, opt = make(ps)): { ps: NamedParameter[]; opt: Optimizer } {
  for (let s = from; s < from + steps; s++) {
    setGrads(ps, GRADS[s]);
    opt.step();
  }
  return { ps, opt };
}

// Both sides run the same libtorch kernels on the same float32 operands in the same order, so we
// expect bit-identical results. The only possible divergence is the host-side double scalars
// (beta ** step: V8's pow vs CPython's libm pow may differ by one double ulp), which can at worst
// flip the float32 rounding of a scalar now and then: a 1-ulp float32 error (6e-8 relative) per
// step compounds over 100 steps to < 100 * 6e-8 = 6e-6 < 1e-5.
const REL_BOUND = 1e-5;
// Relative to max(|expected|, 1e-3): parameters are O(0.1-1); this keeps near-zero entries from
// turning a 1e-10 absolute difference into a huge relative one.
const REL_FLOOR = 1e-3;

for (const c of CASES) {
  test(`${c.id}: 100 steps match torch.optim.${c.torch} (2 groups, 1-D to 3-D, frozen, skipped grads)`, () => {
    const ref = reference()[c.id];
    const { ps, opt } = run(c.make, STEPS);
    let maxRel = 0;
    let maxAbs = 0;
    let exact = true;
    for (const np of ps) {
      const got = np.param.value.data() as Float32Array;
      const d = diff(got, ref.params[np.name], REL_FLOOR);
      maxRel = Math.max(maxRel, d.maxRel);
      maxAbs = Math.max(maxAbs, d.maxAbs);
      exact &&= d.maxAbs === 0;
    }
    const sd = opt.stateDict();
    try {
      assert.deepEqual(Object.keys(sd.tensors).sort(), Object.keys(ref.state).sort(), "state tensor names");
      for (const [k, t] of Object.entries(sd.tensors)) {
        const d = diff(t.data() as Float32Array, ref.state[k], REL_FLOOR);
        maxRel = Math.max(maxRel, d.maxRel);
        maxAbs = Math.max(maxAbs, d.maxAbs);
        exact &&= d.maxAbs === 0;
      }
    } finally {
      for (const t of Object.values(sd.tensors)) t.dispose();
    }
    if (c.torch === "AdamW") assert.deepEqual(sd.paramSteps, ref.steps, "per-parameter step counts");
    assert.equal(sd.paramSteps[SOMETIMES_NO_GRAD] ?? STEPS - 14, STEPS - 14, "norm.weight skipped on its 14 grad-less steps");
    console.log(`${c.id}: params + state after ${STEPS} steps vs torch: max rel diff ${maxRel.toExponential(2)}, max abs ${maxAbs.toExponential(2)}${exact ? " (bit-identical)" : ""}`);
    assert.ok(maxRel < REL_BOUND, `max relative difference ${maxRel} >= ${REL_BOUND}`);
    opt.dispose();
  });
}

// ------------------------------------------------------------------ frozen, skipped, zeroGrad, memory

test("frozen parameters are never touched and get no state, even with a stray gradient", () => {
  for (const make of [CASES[0].make, CASES[3].make]) {
    const ps = makeParams();
    const head = byName(ps, "head.weight").param;
    const before = head.value.data();
    const opt = make(ps);
    for (let s = 0; s < 5; s++) {
      setGrads(ps, GRADS[s]);
      scope(() => void (head.value.grad = Tensor.ones(SHAPES["head.weight"]))); // would move it if stepped
      opt.step();
    }
    assert.deepEqual(head.value.data(), before, "frozen weights changed");
    assert.equal(opt.stateOf(head), null, "frozen parameter has state");
    const sd = opt.stateDict();
    assert.ok(!Object.keys(sd.tensors).some((k) => k.startsWith("head.")), "frozen parameter in the state dict");
    assert.ok(!("head.weight" in sd.paramSteps));
    for (const t of Object.values(sd.tensors)) t.dispose();
    opt.dispose();
  }
});

test("a parameter without a gradient is skipped: unchanged, and no state on its first step", () => {
  const ps = makeParams();
  const opt = CASES[0].make(ps);
  const norm = byName(ps, "norm.weight").param;
  const before = norm.value.data();
  setGrads(ps, { ...GRADS[0], [SOMETIMES_NO_GRAD]: null });
  opt.step();
  assert.deepEqual(norm.value.data(), before);
  assert.equal(opt.stateOf(norm), null);
  assert.equal(opt.stateOf(byName(ps, "cls_token").param)?.step, 1);
  opt.dispose();
});

test("zeroGrad drops every gradient", () => {
  const ps = makeParams();
  const opt = CASES[2].make(ps);
  setGrads(ps, GRADS[0]);
  assert.ok(ps.some((np) => np.param.grad !== null));
  opt.zeroGrad();
  for (const np of ps) assert.equal(np.param.grad, null, `${np.name} still has a grad`);
  opt.dispose();
});

test("step() frees all its temporaries", () => {
  for (const c of CASES) {
    const ps = makeParams();
    const opt = c.make(ps);
    setGrads(ps, GRADS[0]);
    opt.step(); // creates the state
    const live = liveTensors();
    opt.step();
    opt.step();
    assert.equal(liveTensors(), live, `${c.id}: step leaked ${liveTensors() - live} tensors`);
    opt.dispose();
  }
});

// ------------------------------------------------------------------ resume

/** What a checkpoint does: JSON for the metadata, raw bytes (as in safetensors) for tensors. */
function roundTrip(sd: OptimizerStateDict): OptimizerStateDict {
  const { tensors, ...meta } = sd;
  const copies = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, Tensor.fromBytes(t.bytes(), t.shape, t.dtype).keep()]));
  for (const t of Object.values(tensors)) t.dispose();
  return { ...JSON.parse(JSON.stringify(meta)), tensors: copies };
}

const bits = (t: Tensor) => Buffer.from((t.data() as Float32Array).buffer);

for (const c of [CASES[0], CASES[1], CASES[2], CASES[3]]) {
  test(`${c.id}: 10 steps + save + new optimizer + load + 10 steps == 20 steps, bit for bit`, () => {
    const schedule = { baseLr: 2e-2, warmupInit: 1e-4, warmupSteps: 5, totalSteps: 20, minLr: 1e-4 };
    const make = c.make;
    const drive = (ps: NamedParameter[], opt: Optimizer, from: number, n: number) => {
      for (let s = from; s < from + n; s++) {
        opt.setLr(warmupCosine(opt.stepCount, schedule));
        setGrads(ps, GRADS[s]);
        opt.step();
      }
    };
    const a = makeParams();
    const optA = make(a);
    drive(a, optA, 0, 20);

    const b = makeParams();
    const optB = make(b);
    drive(b, optB, 0, 10);
    const saved = roundTrip(optB.stateDict());
    const weights = Object.fromEntries(b.map((np) => [np.name, np.param.value.data() as Float32Array]));
    optB.dispose();

    const c2 = makeParams(weights);
    const optC = make(c2);
    optC.loadStateDict(saved);
    for (const t of Object.values(saved.tensors)) t.dispose();
    assert.equal(optC.stepCount, 10);
    drive(c2, optC, 10, 10);

    for (const np of a) assert.ok(bits(np.param.value).equals(bits(byName(c2, np.name).param.value)), `${np.name} differs after resume`);
    const sa = optA.stateDict();
    const sc = optC.stateDict();
    assert.deepEqual(sc.paramSteps, sa.paramSteps);
    assert.deepEqual(sc.groups, sa.groups);
    for (const k of Object.keys(sa.tensors)) assert.ok(bits(sa.tensors[k]).equals(bits(sc.tensors[k])), `state ${k} differs after resume`);
    for (const t of [...Object.values(sa.tensors), ...Object.values(sc.tensors)]) t.dispose();
    optA.dispose();
    optC.dispose();
  });
}

test("loadStateDict rejects a mismatched state dict with a checkpoint error", () => {
  const ps = makeParams();
  const adam = CASES[0].make(ps);
  run(CASES[0].make, 2, ps, 0, adam);
  const sd = adam.stateDict();
  const isCheckpoint = (e: unknown) => isPftError(e) && e.code === "checkpoint";
  const sgd = CASES[2].make(makeParams());
  assert.throws(() => sgd.loadStateDict(sd), isCheckpoint, "kind");
  const other = new AdamW([{ params: makeParams().slice(0, 2) }]);
  assert.throws(() => other.loadStateDict(sd), isCheckpoint, "groups");
  const fresh = CASES[0].make(makeParams());
  const { "cls_token.exp_avg": _dropped, ...missing } = sd.tensors;
  assert.throws(() => fresh.loadStateDict({ ...sd, tensors: missing }), isCheckpoint, "missing tensor");
  const wrong = Tensor.zeros([2, 2]).keep();
  assert.throws(() => fresh.loadStateDict({ ...sd, tensors: { ...sd.tensors, "cls_token.exp_avg": wrong } }), isCheckpoint, "shape");
  assert.equal(fresh.stateOf(byName(ps, "cls_token").param), null, "a failed load must leave the state alone");
  wrong.dispose();
  for (const t of Object.values(sd.tensors)) t.dispose();
  for (const o of [adam, sgd, other, fresh]) o.dispose();
});

test("constructor validation", () => {
  const ps = makeParams();
  const isArg = (e: unknown) => isPftError(e) && e.code === "argument";
  assert.throws(() => new AdamW([{ params: ps }, { params: ps.slice(0, 1) }]), isArg, "duplicate parameter");
  assert.throws(() => new AdamW([{ params: ps }], { betas: [1, 0.999] }), isArg, "beta1 = 1");
  assert.throws(() => new AdamW([{ params: ps, lr: -1 }]), isArg, "negative lr");
  assert.throws(() => new SGD([{ params: ps }], { lr: 0.1, nesterov: true }), isArg, "nesterov without momentum");
  assert.throws(() => new SGD([{ params: ps }], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), isArg, "nesterov with dampening");
});

test("setLr sets every group to lr * lrScale; per-group lr setter", () => {
  const ps = makeParams();
  const opt = new AdamW([
    { params: ps.slice(0, 2), lr: 5e-3 },
    { params: ps.slice(2), lrScale: 0.5 },
  ]);
  assert.deepEqual(opt.groups.map((g) => g.lr), [5e-3, 1e-3]);
  opt.setLr(2e-3);
  assert.deepEqual(opt.groups.map((g) => g.lr), [2e-3, 1e-3]);
  opt.groups[0].lr = 7e-4;
  assert.equal(opt.lr, 7e-4);
  assert.throws(() => (opt.groups[0].lr = Number.NaN), (e: unknown) => isPftError(e) && e.code === "argument");
});
