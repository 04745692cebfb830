// Layers against PyTorch (forward, input and parameter gradients), default initialisation,
// dropout / drop path behaviour, and the initializers.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { manualSeed, scope, Tensor } from "../../src/engine/index.js";
import {
  Conv2d,
  DropPath,
  Dropout,
  GELU,
  Identity,
  LayerNorm,
  LayerNorm2d,
  Linear,
  Module,
  ModuleList,
  Sequential,
  dropPath,
  kaimingUniform_,
  ones_,
  Parameter,
  truncNormal_,
  xavierUniform_,
  zeros_,
  constant_,
} from "../../src/nn/index.js";
import { assertClose, runTorch } from "../helpers/reference.js";

interface Arr {
  data: number[];
  shape: number[];
}
const arr = (t: Tensor): Arr => ({ data: t.toArray(), shape: t.shape });

interface ParityCase {
  name: string;
  kind: "linear" | "layernorm" | "layernorm2d" | "conv2d" | "gelu";
  cfg: Record<string, unknown>;
  make: () => Module;
  xShape: number[];
}

const CASES: ParityCase[] = [
  { name: "Linear", kind: "linear", cfg: { in: 6, out: 5, bias: true }, make: () => new Linear(6, 5), xShape: [3, 4, 6] },
  { name: "Linear without bias", kind: "linear", cfg: { in: 6, out: 5, bias: false }, make: () => new Linear(6, 5, { bias: false }), xShape: [4, 6] },
  { name: "LayerNorm", kind: "layernorm", cfg: { dim: 8, eps: 1e-6 }, make: () => new LayerNorm(8, { eps: 1e-6 }), xShape: [2, 5, 8] },
  { name: "LayerNorm2d", kind: "layernorm2d", cfg: { dim: 4, eps: 1e-6 }, make: () => new LayerNorm2d(4, { eps: 1e-6 }), xShape: [2, 4, 3, 5] },
  {
    name: "Conv2d (patch embed, stride = kernel)",
    kind: "conv2d",
    cfg: { in: 3, out: 6, kernel: 4, stride: 4, padding: 0, groups: 1, bias: true },
    make: () => new Conv2d(3, 6, 4, { stride: 4 }),
    xShape: [2, 3, 8, 8],
  },
  {
    name: "Conv2d (grouped, no bias)",
    kind: "conv2d",
    cfg: { in: 4, out: 6, kernel: 3, stride: 1, padding: 1, groups: 2, bias: false },
    make: () => new Conv2d(4, 6, 3, { padding: 1, groups: 2, bias: false }),
    xShape: [2, 4, 5, 5],
  },
  {
    name: "Conv2d (depthwise 7x7, stride 2, padding 3)",
    kind: "conv2d",
    cfg: { in: 5, out: 5, kernel: 7, stride: 2, padding: 3, groups: 5, bias: true },
    make: () => new Conv2d(5, 5, 7, { stride: 2, padding: 3, groups: 5 }),
    xShape: [2, 5, 9, 9],
  },
  { name: "GELU", kind: "gelu", cfg: { approximate: "none" }, make: () => new GELU(), xShape: [3, 7] },
  { name: "GELU (tanh)", kind: "gelu", cfg: { approximate: "tanh" }, make: () => new GELU("tanh"), xShape: [3, 7] },
];

const REFERENCE = String.raw`
import json, math, sys
import torch
import torch.nn.functional as F

class LayerNorm2d(torch.nn.LayerNorm):  # timm.layers.norm.LayerNorm2d
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)

def T(a):
    return torch.tensor(a["data"], dtype=torch.float32).reshape(a["shape"])

def flat(t):
    return t.detach().flatten().tolist()

def build(kind, c):
    if kind == "linear": return torch.nn.Linear(c["in"], c["out"], bias=c["bias"])
    if kind == "layernorm": return torch.nn.LayerNorm(c["dim"], eps=c["eps"])
    if kind == "layernorm2d": return LayerNorm2d(c["dim"], eps=c["eps"])
    if kind == "conv2d": return torch.nn.Conv2d(c["in"], c["out"], c["kernel"], stride=c["stride"], padding=c["padding"], groups=c["groups"], bias=c["bias"])
    if kind == "gelu": return torch.nn.GELU(approximate=c["approximate"])

def trunc_normal_(tensor, mean, std, a, b):  # timm.layers.weight_init._trunc_normal_
    def norm_cdf(x):
        return (1. + math.erf(x / math.sqrt(2.))) / 2.
    l = norm_cdf((a - mean) / std)
    u = norm_cdf((b - mean) / std)
    tensor.uniform_(2 * l - 1, 2 * u - 1)
    tensor.erfinv_()
    tensor.mul_(std * math.sqrt(2.))
    tensor.add_(mean)
    tensor.clamp_(min=a, max=b)
    return tensor

inp = json.load(sys.stdin)
parity = []
for c in inp["cases"]:
    m = build(c["kind"], c["cfg"])
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(T(c["params"][n]))
    x = T(c["x"]).requires_grad_(True)
    y = m(x)
    (y * T(c["gy"])).sum().backward()
    parity.append({"y": flat(y), "dx": flat(x.grad), "grads": {n: flat(p.grad) for n, p in m.named_parameters()}})

s = inp["seed"]
torch.manual_seed(s)
lin = torch.nn.Linear(7, 5)
conv = torch.nn.Conv2d(4, 6, 3, groups=2)
torch.manual_seed(s)
tn = trunc_normal_(torch.empty(4000), 0.1, 0.5, -0.4, 0.9)
init = {"linear": {n: flat(p) for n, p in lin.named_parameters()}, "conv": {n: flat(p) for n, p in conv.named_parameters()}, "trunc": flat(tn)}
print(json.dumps({"parity": parity, "init": init}))
`;

interface Reference {
  parity: { y: number[]; dx: number[]; grads: Record<string, number[]> }[];
  init: { linear: Record<string, number[]>; conv: Record<string, number[]>; trunc: number[] };
}

const SEED = 1234;

describe("layers against PyTorch", () => {
  let ref: Reference;
  const inputs: { x: Tensor; gy: Tensor; module: Module }[] = [];

  before(() => {
    manualSeed(7);
    const cases = CASES.map((c) => {
      const module = c.make();
      // Non-default parameter values, so weight and bias of norms matter too.
      for (const { param } of module.namedParameters()) param.assign(Tensor.randn(param.shape).mul(0.5).add(0.1));
      const x = Tensor.randn(c.xShape);
      const gy = Tensor.randn(scope(() => module.forward(x).shape));
      inputs.push({ x, gy, module });
      const params = Object.fromEntries(module.namedParameters().map(({ name, param }) => [name, arr(param.value)]));
      return { kind: c.kind, cfg: c.cfg, params, x: arr(x), gy: arr(gy) };
    });
    ref = runTorch<Reference>(REFERENCE, { cases, seed: SEED });
  });

  CASES.forEach((c, i) => {
    test(`${c.name}: forward, input and parameter gradients`, () => {
      const { module, gy } = inputs[i];
      const x = inputs[i].x.detach().requiresGrad_(true);
      const y = module.forward(x);
      y.mul(gy).sum().backward();
      const r = ref.parity[i];
      assertClose(y.toArray(), r.y, 1e-5, 1e-6, `${c.name} output`);
      assertClose(x.grad!.toArray(), r.dx, 1e-5, 1e-6, `${c.name} input grad`);
      const names = module.namedParameters().map((n) => n.name);
      assert.deepEqual(names, Object.keys(r.grads), "parameter names as in torch");
      for (const { name, param } of module.namedParameters()) {
        assertClose(param.grad!.toArray(), r.grads[name], 1e-5, 1e-6, `${c.name} grad of ${name}`);
      }
    });
  });

  test("Linear and Conv2d default init reproduce torch's draws for the same seed", () => {
    manualSeed(SEED);
    const lin = new Linear(7, 5);
    const conv = new Conv2d(4, 6, 3, { groups: 2 });
    for (const { name, param } of lin.namedParameters()) assertClose(param.value.toArray(), ref.init.linear[name], 0, 0, `linear ${name}`);
    for (const { name, param } of conv.namedParameters()) assertClose(param.value.toArray(), ref.init.conv[name], 0, 0, `conv ${name}`);
    lin.dispose();
    conv.dispose();
  });

  test("truncNormal_ matches timm's trunc_normal_ for the same seed", () => {
    manualSeed(SEED);
    const t = truncNormal_(Tensor.empty([4000]), { mean: 0.1, std: 0.5, a: -0.4, b: 0.9 });
    assertClose(t.toArray(), ref.init.trunc, 1e-6, 1e-7, "trunc_normal_");
  });
});

describe("default initialisation", () => {
  test("Linear: weight and bias in ±1/sqrt(fan_in), spread to the bound; LayerNorm ones and zeros", () => {
    manualSeed(3);
    const lin = new Linear(64, 200);
    const bound = 1 / Math.sqrt(64);
    for (const p of [lin.weight, lin.bias!]) {
      const v = p.value.toArray();
      assert.ok(v.every((e) => Math.abs(e) <= bound), "inside the bound");
      assert.ok(Math.max(...v.map(Math.abs)) > 0.97 * bound, "reaches near the bound");
    }
    assert.ok(lin.weight.trainable && lin.bias!.trainable);
    const ln = new LayerNorm(5);
    assert.deepEqual(ln.weight.value.toArray(), [1, 1, 1, 1, 1]);
    assert.deepEqual(ln.bias.value.toArray(), [0, 0, 0, 0, 0]);
  });

  test("Conv2d weight shape follows groups; bad groups throw", () => {
    const dw = new Conv2d(8, 8, 7, { padding: 3, groups: 8 });
    assert.deepEqual(dw.weight.shape, [8, 1, 7, 7]);
    assert.throws(() => new Conv2d(6, 4, 3, { groups: 4 }), (e: Error & { code?: string }) => e.code === "argument");
  });
});

describe("Dropout and DropPath", () => {
  test("DropPath is the identity in eval mode and with p = 0", () => {
    const x = Tensor.randn([8, 3, 4]);
    const dp = new DropPath(0.5);
    dp.eval();
    assert.equal(dp.forward(x), x);
    const dp0 = new DropPath(0);
    assert.ok(dp0.training);
    assert.equal(dp0.forward(x), x);
  });

  test("DropPath in training zeroes whole samples and scales the others by 1/keep_prob", () => {
    manualSeed(11);
    const p = 0.3;
    const keep = 1 - p;
    const [B, N, C] = [4000, 3, 2];
    const x = Tensor.ones([B, N, C]).requiresGrad_(true);
    const dp = new DropPath(p);
    const y = dp.forward(x);
    assert.deepEqual(y.shape, [B, N, C]);
    const v = y.toArray();
    let kept = 0;
    for (let b = 0; b < B; b++) {
      const sample = v.slice(b * N * C, (b + 1) * N * C);
      if (sample[0] === 0) assert.ok(sample.every((e) => e === 0), `sample ${b} dropped whole`);
      else {
        kept++;
        assert.ok(sample.every((e) => Math.abs(e - 1 / keep) < 1e-6), `sample ${b} scaled by 1/keep_prob`);
      }
    }
    assert.ok(kept > 0 && kept < B, "some samples dropped, some kept");
    const sigma = Math.sqrt(B * keep * p);
    assert.ok(Math.abs(kept - B * keep) < 5 * sigma, `kept ${kept} of ${B}, expected about ${B * keep}`);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    assert.ok(Math.abs(mean - 1) < 0.05, `mean ${mean} preserved`);
    // The gradient is the same per-sample mask.
    y.sum().backward();
    assert.deepEqual(x.grad!.toArray(), v);
  });

  test("dropPath without scale_by_keep only zeroes", () => {
    manualSeed(12);
    const v = dropPath(Tensor.ones([500, 2]), 0.5, true, false).toArray();
    assert.ok(v.every((e) => e === 0 || e === 1));
    assert.ok(v.includes(0) && v.includes(1));
  });

  test("Dropout is active only in training", () => {
    manualSeed(13);
    const x = Tensor.ones([1000]);
    const d = new Dropout(0.25);
    const vt = d.forward(x).toArray();
    assert.ok(vt.some((e) => e === 0), "zeros while training");
    assert.ok(vt.filter((e) => e !== 0).every((e) => Math.abs(e - 1 / 0.75) < 1e-6), "scaled survivors");
    d.eval();
    assert.equal(d.forward(x), x);
    assert.throws(() => new DropPath(1), (e: Error & { code?: string }) => e.code === "argument");
  });
});

describe("containers", () => {
  test("Sequential chains forwards; ModuleList indexes, iterates and has a length", () => {
    manualSeed(5);
    const seq = new Sequential(new Linear(4, 6), new GELU(), new Identity(), new Linear(6, 2));
    const x = Tensor.randn([3, 4]);
    const lin0 = seq[0] as Linear;
    const lin3 = seq.at(-1) as Linear;
    const expected = lin3.forward(lin0.forward(x).gelu());
    assert.ok(seq.forward(x).equal(expected));
    assert.equal(seq.length, 4);
    assert.deepEqual(
      seq.namedParameters().map((n) => n.name),
      ["0.weight", "0.bias", "3.weight", "3.bias"],
    );
    const list = new ModuleList([new LayerNorm(2), new LayerNorm(3)]);
    assert.deepEqual([...list].map((m) => m.dim), [2, 3]);
    assert.equal(list[1].dim, 3);
    assert.throws(() => list.at(2), (e: Error & { code?: string }) => e.code === "argument");
    assert.throws(() => list.forward(x), (e: Error & { code?: string }) => e.code === "argument");
  });
});

describe("initializers", () => {
  // Standard normal truncated to [alpha, beta] (in standard units): mean and std.
  const phi = (z: number) => Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
  function truncatedMoments(mean: number, std: number, a: number, b: number, Z: number) {
    const [al, be] = [(a - mean) / std, (b - mean) / std];
    const m = (phi(al) - phi(be)) / Z;
    const v = 1 + (al * phi(al) - be * phi(be)) / Z - m * m;
    return { mean: mean + std * m, std: std * Math.sqrt(v) };
  }

  for (const [mean, std, a, b, Z] of [
    // Z = Phi(beta) - Phi(alpha), from tables: Phi(2) - Phi(-2), Phi(2) - Phi(-1).
    [0, 1, -2, 2, 0.9544997361036416],
    [1, 2, -1, 5, 0.8185946141203637],
  ] as const) {
    test(`truncNormal_(mean ${mean}, std ${std}, [${a}, ${b}]): inside the bounds, moments of the truncated normal`, () => {
      manualSeed(21);
      const t = truncNormal_(Tensor.empty([200_000]), { mean, std, a, b });
      const v = t.toArray();
      assert.ok(v.every((e) => e >= a && e <= b), "all values within [a, b]");
      const m = v.reduce((s, e) => s + e, 0) / v.length;
      const sd = Math.sqrt(v.reduce((s, e) => s + (e - m) ** 2, 0) / (v.length - 1));
      const want = truncatedMoments(mean, std, a, b, Z);
      assert.ok(want.std < 0.95 * std, "the check is sensitive to truncation");
      assert.ok(Math.abs(sd - want.std) / want.std < 0.01, `std ${sd}, expected ${want.std}`);
      assert.ok(Math.abs(m - want.mean) < 0.01 * std, `mean ${m}, expected ${want.mean}`);
    });
  }

  test("truncNormal_ works on a Parameter without recording history and rejects bad options", () => {
    const p = new Parameter(Tensor.zeros([1000]));
    assert.equal(truncNormal_(p, { std: 0.02 }), p);
    assert.ok(p.value.isLeaf && p.trainable);
    const v = p.value.toArray();
    const sd = Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length);
    assert.ok(Math.abs(sd - 0.02) < 0.003, `std ${sd}`);
    assert.throws(() => truncNormal_(p, { a: 1, b: 0 }), (e: Error & { code?: string }) => e.code === "argument");
  });

  test("xavierUniform_ stays within gain * sqrt(6 / (fan_in + fan_out)) and fills it", () => {
    manualSeed(22);
    const t = xavierUniform_(Tensor.empty([48, 16, 3, 3]), 1.5); // fan_in 144, fan_out 432
    const bound = 1.5 * Math.sqrt(6 / (144 + 432));
    const v = t.toArray();
    assert.ok(v.every((e) => Math.abs(e) <= bound), "inside the bound");
    assert.ok(Math.max(...v.map(Math.abs)) > 0.99 * bound, "reaches near the bound");
    const variance = v.reduce((s, e) => s + e * e, 0) / v.length;
    assert.ok(Math.abs(variance - (bound * bound) / 3) / ((bound * bound) / 3) < 0.05, `variance ${variance}`);
    assert.throws(() => xavierUniform_(Tensor.empty([5])), (e: Error & { code?: string }) => e.code === "shape");
  });

  test("kaimingUniform_ (relu, fan_out), zeros_, ones_, constant_", () => {
    manualSeed(23);
    const t = kaimingUniform_(Tensor.empty([32, 8]), { mode: "fan_out", nonlinearity: "relu" });
    const bound = Math.sqrt(2) * Math.sqrt(3 / 32);
    assert.ok(t.toArray().every((e) => Math.abs(e) <= bound));
    assert.ok(Math.max(...t.toArray().map(Math.abs)) > 0.95 * bound);
    assert.deepEqual(zeros_(Tensor.ones([3])).toArray(), [0, 0, 0]);
    assert.deepEqual(ones_(Tensor.zeros([2])).toArray(), [1, 1]);
    assert.deepEqual(constant_(Tensor.zeros([2]), 0.5).toArray(), [0.5, 0.5]);
  });
});
