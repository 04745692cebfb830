// Module: reflection (keys, order, buffers), modes, state dicts (round trip, strict and
// non-strict loading, dtype conversion), freezing and parameter counts, disposal.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cat, liveTensors, manualSeed, scope, scoped, Tensor } from "../../src/engine/index.js";
import { PftError } from "../../src/errors.js";
import {
  Conv2d,
  DropPath,
  GELU,
  Identity,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  Parameter,
  type StateDict,
} from "../../src/nn/index.js";

const DIM = 8;

class Attention extends Module {
  qkv = new Linear(DIM, 3 * DIM);
  proj = new Linear(DIM, DIM);
  override forward(x: Tensor): Tensor {
    const [q, k, v] = this.qkv.forward(x).chunk(3, -1);
    const attn = q.matmul(k.mT()).mul(1 / Math.sqrt(DIM)).softmax(-1);
    return this.proj.forward(attn.matmul(v));
  }
}

class Mlp extends Module {
  fc1 = new Linear(DIM, 2 * DIM);
  act = new GELU();
  fc2 = new Linear(2 * DIM, DIM);
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

class Block extends Module {
  norm1 = new LayerNorm(DIM);
  attn = new Attention();
  drop_path = new DropPath(0.1);
  norm2 = new LayerNorm(DIM);
  mlp = new Mlp();
  override forward(x: Tensor): Tensor {
    x = x.add(this.drop_path.forward(this.attn.forward(this.norm1.forward(x))));
    return x.add(this.drop_path.forward(this.mlp.forward(this.norm2.forward(x))));
  }
}

/** A two-block ViT-like toy: 8x8 images, 4x4 patches. */
class Toy extends Module {
  patch_embed = new Conv2d(3, DIM, 4, { stride: 4 });
  cls_token = new Parameter(Tensor.zeros([1, 1, DIM]));
  blocks = new ModuleList([new Block(), new Block()]);
  norm = new LayerNorm(DIM);
  head: Linear | null = new Linear(DIM, 3);
  pre_logits: Module | null = null;
  constructor() {
    super();
    this.registerBuffer("relative_position_index", Tensor.arange(0, 4), false);
    this.registerBuffer("scale", Tensor.full([1], 0.5));
  }
  override forward(x: Tensor): Tensor {
    const t = this.patch_embed.forward(x).flatten(2).transpose(1, 2); // [B, 4, DIM]
    let h = cat([this.cls_token.value.expand([t.shape[0], 1, DIM]), t], 1);
    for (const b of this.blocks) h = b.forward(h);
    return this.head!.forward(this.norm.forward(h).select(1, 0));
  }
}

const blockKeys = (i: number) =>
  [
    "norm1.weight",
    "norm1.bias",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
  ].map((k) => `blocks.${i}.${k}`);

// PyTorch's order: own parameters, own buffers, then children in field order.
const PARAM_KEYS = ["cls_token", "patch_embed.weight", "patch_embed.bias", ...blockKeys(0), ...blockKeys(1), "norm.weight", "norm.bias", "head.weight", "head.bias"];
const STATE_KEYS = ["cls_token", "scale", ...PARAM_KEYS.slice(1)];

function toy(seed: number): Toy {
  manualSeed(seed);
  return new Toy();
}

const isCheckpointError = (key: string) => (e: unknown) => {
  assert.ok(e instanceof PftError, `PftError expected, got ${String(e)}`);
  assert.equal(e.code, "checkpoint");
  assert.ok(e.message.includes(`'${key}'`), `message names '${key}': ${e.message}`);
  assert.ok(!e.message.includes("\n"), "one line");
  return true;
};

function copyOf(sd: StateDict): StateDict {
  return new Map([...sd].map(([k, t]) => [k, t.clone()]));
}

const bytesEqual = (a: Tensor, b: Tensor) => Buffer.from(a.bytes()).equals(Buffer.from(b.bytes()));

describe("module tree", () => {
  test("parameter and state-dict keys are the dotted field names, in PyTorch's order", () => {
    const m = toy(1);
    assert.deepEqual(m.namedParameters().map((n) => n.name), PARAM_KEYS);
    assert.deepEqual([...m.stateDict().keys()], STATE_KEYS);
    assert.equal(m.parameters().length, PARAM_KEYS.length);
    assert.deepEqual(
      m.namedBuffers().map(({ name, persistent }) => [name, persistent]),
      [["relative_position_index", false], ["scale", true]],
    );
    assert.deepEqual(m.buffer("relative_position_index").toArray(), [0, 1, 2, 3]);
    assert.equal(m.children().length, 4);
    assert.deepEqual(
      m.namedModules().map((n) => n.name).slice(0, 8),
      ["", "patch_embed", "blocks", "blocks.0", "blocks.0.norm1", "blocks.0.attn", "blocks.0.attn.qkv", "blocks.0.attn.proj"],
    );
    assert.equal(m.getSubmodule("blocks.1.mlp.fc2"), m.blocks[1].mlp.fc2);
    assert.equal(m.getParameter("blocks.1.attn.qkv.bias"), m.blocks[1].attn.qkv.bias);
    assert.throws(() => m.getSubmodule("blocks.7"), (e: PftError) => e.code === "argument");
    m.dispose();
  });

  test("a plain array of modules is refused rather than silently skipped", () => {
    class Bad extends Module {
      layers = [new Linear(2, 2)];
    }
    assert.throws(() => new Bad().namedParameters(), (e: PftError) => e.code === "argument" && e.message.includes("ModuleList"));
  });

  test("a parameter shared by two modules is listed and counted once", () => {
    class Tied extends Module {
      a = new Linear(4, 4, { bias: false });
      b = new Linear(4, 4, { bias: false });
    }
    const m = new Tied();
    (m.b as { weight: Parameter }).weight = m.a.weight;
    assert.deepEqual(m.namedParameters().map((n) => n.name), ["a.weight"]);
    assert.deepEqual([...m.stateDict().keys()], ["a.weight", "b.weight"]);
    assert.equal(m.countParameters(), 16);
  });

  test("train() and eval() reach every module", () => {
    const m = toy(1);
    assert.ok(m.modules().every((x) => x.training));
    m.eval();
    assert.ok(m.modules().every((x) => !x.training));
    assert.equal(m.blocks[1].drop_path.training, false);
    m.train();
    assert.ok(m.modules().every((x) => x.training));
    m.dispose();
  });
});

describe("state dict", () => {
  test("round trip into a fresh instance is bit-exact, and buffers load too", () => {
    const a = toy(1);
    const b = toy(2);
    a.buffer("scale").fill_(0.25);
    const sdA = a.stateDict();
    assert.ok(!bytesEqual(sdA.get("blocks.1.mlp.fc1.weight")!, b.stateDict().get("blocks.1.mlp.fc1.weight")!), "different seeds differ");
    const qkv = b.blocks[0].attn.qkv.weight.value;
    const report = b.loadStateDict(sdA);
    assert.deepEqual(report, { missing: [], unexpected: [], mismatched: [] });
    const sdB = b.stateDict();
    for (const [k, t] of sdA) assert.ok(bytesEqual(t, sdB.get(k)!), `${k} bit-exact`);
    assert.equal(b.blocks[0].attn.qkv.weight.value, qkv, "loaded in place: same tensor");
    assert.ok(qkv.requiresGrad && qkv.isLeaf, "still a trainable leaf");
    a.dispose();
    b.dispose();
  });

  test("strict loading throws PftError('checkpoint') naming a missing key, and changes nothing", () => {
    const a = toy(1);
    const b = toy(2);
    const before = b.norm.weight.value.clone();
    const sd = copyOf(a.stateDict());
    sd.delete("blocks.1.attn.proj.bias");
    assert.throws(() => b.loadStateDict(sd), isCheckpointError("blocks.1.attn.proj.bias"));
    assert.ok(b.norm.weight.value.equal(before), "nothing loaded");
    a.dispose();
    b.dispose();
  });

  test("strict loading throws naming an unexpected key", () => {
    const a = toy(1);
    const sd = copyOf(a.stateDict());
    sd.set("blocks.0.attn.q_bias", Tensor.zeros([DIM]));
    assert.throws(() => a.loadStateDict(sd), isCheckpointError("blocks.0.attn.q_bias"));
    a.dispose();
  });

  test("strict loading throws naming a mis-shaped key (and both shapes)", () => {
    const a = toy(1);
    const sd = copyOf(a.stateDict());
    sd.set("head.weight", Tensor.zeros([5, DIM]));
    assert.throws(() => a.loadStateDict(sd), (e: unknown) => isCheckpointError("head.weight")(e) && /\[5, 8\].*\[3, 8\]/.test((e as Error).message));
    a.dispose();
  });

  test("non-strict loading reports missing, unexpected and mis-shaped keys and loads the rest", () => {
    const a = toy(1);
    const b = toy(2);
    const sd = copyOf(a.stateDict());
    sd.delete("blocks.1.attn.proj.bias");
    sd.set("blocks.0.attn.q_bias", Tensor.zeros([DIM]));
    sd.set("head.weight", Tensor.zeros([5, DIM]));
    const headBefore = b.head!.weight.value.clone();
    const projBefore = b.blocks[1].attn.proj.bias!.value.clone();
    const report = b.loadStateDict(sd, { strict: false });
    assert.deepEqual(report, {
      missing: ["blocks.1.attn.proj.bias"],
      unexpected: ["blocks.0.attn.q_bias"],
      mismatched: [{ key: "head.weight", expected: [3, DIM], got: [5, DIM] }],
    });
    assert.ok(b.head!.weight.value.equal(headBefore), "mis-shaped key left alone");
    assert.ok(b.blocks[1].attn.proj.bias!.value.equal(projBefore), "missing key left alone");
    const sdB = b.stateDict();
    for (const k of STATE_KEYS.filter((k) => k !== "head.weight" && k !== "blocks.1.attn.proj.bias")) {
      assert.ok(bytesEqual(sd.get(k)!, sdB.get(k)!), `${k} loaded`);
    }
    a.dispose();
    b.dispose();
  });

  test("a bfloat16 checkpoint loads into float32 parameters, converted", () => {
    const a = toy(1);
    const b = toy(2);
    const bf16 = new Map([...a.stateDict()].map(([k, t]) => [k, t.to("bfloat16")]));
    b.loadStateDict(bf16);
    const w = b.blocks[0].mlp.fc1.weight.value;
    assert.equal(w.dtype, "float32");
    assert.deepEqual(w.toArray(), bf16.get("blocks.0.mlp.fc1.weight")!.toArray());
    assert.ok(!w.equal(a.blocks[0].mlp.fc1.weight.value), "values are the bf16-rounded ones");
    a.dispose();
    b.dispose();
  });
});

describe("freezing", () => {
  test("frozen parameters get no gradient, trainable ones do; counts are exact", () => {
    const m = toy(3);
    const total = m.countParameters();
    // patch_embed 3*8*16 + 8, cls 8, per block: 2*(8+8) + (8*24+24) + (8*8+8) + (8*16+16) + (16*8+8), norm 16, head 8*3+3
    const block = 2 * 16 + (8 * 24 + 24) + (8 * 8 + 8) + (8 * 16 + 16) + (16 * 8 + 8);
    assert.equal(total, 3 * 8 * 16 + 8 + 8 + 2 * block + 16 + 8 * 3 + 3);

    m.freezeAll();
    assert.equal(m.countParameters({ trainableOnly: true }), 0);
    assert.deepEqual(m.trainableParameters(), []);
    // Partial fine-tuning: the attention of the last block, plus the head.
    const picked = m.setTrainable((n) => n.startsWith("blocks.1.attn."), true);
    assert.equal(picked, 4);
    assert.equal(m.setTrainable(["head.weight", "head.bias"], true), 2);
    assert.throws(() => m.setTrainable(["head.wieght"], true), (e: PftError) => e.code === "argument" && e.message.includes("head.wieght"));
    const trainable = ["blocks.1.attn.qkv.weight", "blocks.1.attn.qkv.bias", "blocks.1.attn.proj.weight", "blocks.1.attn.proj.bias", "head.weight", "head.bias"];
    assert.deepEqual(m.trainableParameters().map((n) => n.name), trainable);
    assert.equal(m.countParameters({ trainableOnly: true }), 8 * 24 + 24 + 8 * 8 + 8 + 8 * 3 + 3);

    manualSeed(4);
    const loss = m.forward(Tensor.randn([2, 3, 8, 8])).square().mean();
    loss.backward();
    for (const { name, param } of m.namedParameters()) {
      if (trainable.includes(name)) assert.ok(param.grad !== null && param.grad.abs().sum().item() > 0, `${name} has a gradient`);
      else assert.equal(param.grad, null, `${name} is frozen`);
    }
    // Freezing again drops the gradient.
    assert.equal(m.setTrainable(/^head\./, false), 2);
    assert.equal(m.head!.weight.grad, null);
    assert.notEqual(m.blocks[1].attn.qkv.weight.grad, null);
    m.zeroGrad();
    assert.equal(m.blocks[1].attn.qkv.weight.grad, null);
    m.dispose();
  });
});

describe("ownership", () => {
  test("dispose() frees every parameter and buffer", () => {
    const m = toy(1);
    const tensors = [...m.parameters().map((p) => p.value), ...m.namedBuffers().map((b) => b.tensor)];
    m.dispose();
    assert.ok(tensors.every((t) => t.isDisposed));
    assert.throws(() => m.countParameters(), (e: PftError) => e.code === "disposed");
  });

  test("registerBuffer refuses a name already used by a parameter or submodule", () => {
    const lin = new Linear(2, 2);
    assert.throws(() => lin.registerBuffer("weight", Tensor.zeros([1])), (e: PftError) => e.code === "argument");
    assert.throws(() => lin.registerBuffer("a.b", Tensor.zeros([1])), (e: PftError) => e.code === "argument");
  });
});

describe("forward owns its scope", () => {
  const x = () => Tensor.randn([2, 3, DIM]).keep();

  test("called outside any scope, a forward frees its intermediates on return and only the output survives", () => {
    const m = new Attention();
    const input = x();
    const before = liveTensors();
    const y = m.forward(input); // qkv, q, k, v, scores, attn, attn @ v: all made inside
    assert.equal(liveTensors() - before, 1);
    assert.deepEqual(y.shape, [2, 3, DIM]);
    y.dispose();
    assert.ok(!Object.keys(m).includes("forward"), "forward is not a member for reflection");
    assert.deepEqual(
      m.namedParameters().map((n) => n.name),
      ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"],
    );
  });

  test("inside a scope the output moves to it; the graph survives the freed intermediates", () => {
    const m = new Attention();
    const input = x();
    const before = liveTensors();
    const grad = scope(() => {
      const loss = m.forward(input).sum();
      loss.backward();
      return m.qkv.weight.grad!.abs().sum().item();
    });
    assert.ok(grad > 0, "qkv got a gradient through the disposed intermediates' graph");
    assert.equal(liveTensors() - before, 0, "nothing outlives the scope but the gradients the parameters hold");
  });

  test("a forward that throws frees what it made; one that returns its input leaves it alone", () => {
    class Failing extends Module {
      override forward(t: Tensor): Tensor {
        t.mul(2).add(1);
        throw new PftError("shape", "boom");
      }
    }
    const input = x();
    const before = liveTensors();
    assert.throws(() => new Failing().forward(input), (e: PftError) => e.code === "shape");
    assert.equal(liveTensors(), before);
    assert.equal(new Identity().forward(input), input);
    assert.ok(!input.isDisposed);
  });

  test("super.forward runs inside the override's scope, and a reassigned forward is what runs", () => {
    class Doubled extends Attention {
      override forward(t: Tensor): Tensor {
        return super.forward(t).mul(2);
      }
    }
    manualSeed(4);
    const m = new Doubled();
    const input = x();
    const before = liveTensors();
    const y = m.forward(input);
    assert.equal(liveTensors() - before, 1);
    const plain = scope(() => Attention.prototype.forward.call(m, input).mul(2));
    assert.ok(y.equal(plain));
    const seen: number[][] = [];
    const inner = m.forward;
    m.forward = (t: Tensor) => (seen.push(t.shape), inner(t));
    m.forward(input).dispose();
    assert.deepEqual(seen, [[2, 3, DIM]]);
  });

  test("@scoped gives any method (or function) a scope of its own, with `this` and the arguments intact", () => {
    class Branches extends Module {
      lin = new Linear(DIM, DIM);
      @scoped
      branch(t: Tensor, scale: number): Tensor {
        return this.lin.forward(t.mul(scale).relu()).add(t);
      }
    }
    const m = new Branches();
    const input = x();
    const before = liveTensors();
    const y = m.branch(input, 3);
    assert.equal(liveTensors() - before, 1);
    const expected = scope(() => m.lin.forward(input.mul(3).relu()).add(input));
    assert.ok(y.allclose(expected));
    const f = scoped((t: Tensor) => t.exp().log().add(1));
    const z = f(input);
    assert.equal(liveTensors() - before, 3);
    assert.ok(z.allclose(input.add(1), 1e-5, 1e-5));
  });
});
