// ViT: parity with a timm-structured PyTorch reference, timm's parameter names and counts,
// the residual-unit catalog (Table 6), and checkpoint loading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, noGrad, manualSeed, PftError } from "../../src/index.js";
import { VisionTransformer, createModel, catalogOf, loadPretrained, type VitConfig } from "../../src/models/index.js";
import { checkParity } from "../helpers/parity.js";

const small: Partial<VitConfig> = { imageSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, numClasses: 5 };

for (const variant of [
  { name: "cls token", cfg: { ...small } },
  { name: "avg pool + fc_norm, layer scale", cfg: { ...small, globalPool: "avg" as const, initValues: 0.5 } },
]) {
  test(`ViT forward and gradients match the PyTorch reference (${variant.name})`, () => {
    manualSeed(1); // the initial weights too, so the reported numbers repeat (checkParity seeds only its perturbation)
    const model = new VisionTransformer(variant.cfg);
    const r = checkParity(model, "vit_ref.py", model.cfg, 3);
    console.log(`vit ${variant.name}: logits max rel ${r.logits.maxRel.toExponential(2)}, grads worst ${r.grads.maxRelToScale.toExponential(2)} (${r.grads.worstKey}, ${r.grads.checked} tensors)`);
    assert.ok(r.logits.maxRel < 1e-4, `logits differ by ${r.logits.maxRel}`);
    assert.ok(r.grads.maxRelToScale < 1e-4, `gradient of ${r.grads.worstKey} differs by ${r.grads.maxRelToScale}`);
  });
}

test("attention dropout: training composes the attention with dropout, eval runs the fused kernel", () => {
  manualSeed(11);
  const plain = new VisionTransformer(small);
  const dropping = new VisionTransformer({ ...small, attnDropRate: 0.5 });
  dropping.loadStateDict(plain.stateDict());
  const x = Tensor.randn([2, 3, 16, 16]);
  plain.eval();
  dropping.eval();
  const evalPlain = noGrad(() => plain.forward(x)).toArray();
  const evalDropping = noGrad(() => dropping.forward(x)).toArray();
  assert.deepEqual(evalDropping, evalPlain, "in eval the dropout rate changes nothing");
  dropping.train();
  const a = noGrad(() => dropping.forward(x)).toArray();
  const b = noGrad(() => dropping.forward(x)).toArray();
  assert.notDeepEqual(a, b, "in training the attention weights are dropped at random");
  assert.notDeepEqual(a, evalPlain);
});

test("ViT keys follow timm's names and order", () => {
  const keys = [...new VisionTransformer(small).stateDict().keys()];
  assert.deepEqual(keys.slice(0, 4), ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]);
  assert.deepEqual(keys.slice(4, 16), [
    "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
    "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
    "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias",
  ]);
  assert.deepEqual(keys.slice(-4), ["norm.weight", "norm.bias", "head.weight", "head.bias"]);
});

test("ViT-B/16 has timm's parameter count, runs a 224x224 forward, and its catalog is Table 6's", () => {
  const model = createModel("vit_base_patch16_224");
  assert.equal(model.countParameters(), 86_567_656);
  const out = noGrad(() => model.eval().forward(Tensor.randn([1, 3, 224, 224])));
  assert.deepEqual(out.shape, [1, 1000]);
  const cat = catalogOf(model);
  assert.deepEqual(cat.depths, [12]);
  assert.deepEqual(cat.groups.map((g) => [g.id, g.units.length]), [["attn", 12], ["ffn", 12]]);
  const attn = cat.units.find((u) => u.name === "blocks.3.attn")!;
  assert.deepEqual([...attn.params].sort(), ["blocks.3.norm1.weight", "blocks.3.norm1.bias", "blocks.3.attn.qkv.weight", "blocks.3.attn.qkv.bias", "blocks.3.attn.proj.weight", "blocks.3.attn.proj.bias"].sort());
  assert.equal(attn.numel, 2 * 768 + 768 * 2304 + 2304 + 768 * 768 + 768);
  const ffn = cat.units.find((u) => u.name === "blocks.3.ffn")!;
  assert.equal(ffn.numel, 2 * 768 + 768 * 3072 + 3072 + 3072 * 768 + 768);
  assert.deepEqual([...new Set(cat.others.map((o) => o.role))].sort(), ["cls_token", "head", "norm", "patch_embed", "pos_embed"]);
  model.dispose();
});

test("loading: a position embedding for another grid is resized (timm's resample)", () => {
  const src = new VisionTransformer({ ...small, imageSize: 32 });
  const dst = new VisionTransformer(small);
  loadPretrained(dst, src.stateDict());
  assert.deepEqual(dst.pos_embed.shape, [1, 17, 32]);
  assert.ok(dst.pos_embed.value.select(1, 0).equal(src.pos_embed.value.select(1, 0)), "cls position kept");
});

test("loading: a wrong shape or another architecture fails naming the first offending key", () => {
  const dst = new VisionTransformer(small);
  const wide = new VisionTransformer({ ...small, embedDim: 64 });
  assert.throws(() => loadPretrained(dst, wide.stateDict()), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /'cls_token'/.test(e.message));
  const foreign = new Map([["stem.0.weight", Tensor.zeros([4, 3, 4, 4])], ["stages.0.blocks.0.conv_dw.weight", Tensor.zeros([4, 1, 7, 7])]]);
  assert.throws(() => loadPretrained(dst, foreign), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /missing key 'cls_token'/.test(e.message));
});
