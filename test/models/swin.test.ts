// Swin: parity with a timm-structured PyTorch reference (shifted windows and masks exercised),
// timm's parameter names and counts, the residual-unit catalog (Table 6), and checkpoint loading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { Tensor, noGrad, PftError } from "../../src/index.js";
import { manualSeed } from "../../src/engine/index.js";
import { DropPath } from "../../src/nn/index.js";
import { SwinTransformer, SWIN_UNITS, VIT_UNITS, VisionTransformer, createModel, catalogOf, loadPretrained, type SwinConfig } from "../../src/models/index.js";
import { relativePositionIndex, shiftedWindowMask } from "../../src/models/swin.js";
import { checkParity } from "../helpers/parity.js";
import { runPython, assertClose } from "../helpers/reference.js";
import { autocastRun } from "../helpers/autocast-run.js";

// 32x32, patch 2: 16x16 and 8x8 maps shift windows of 4 (with masks), 4x4 and 2x2 are one window.
const small: Partial<SwinConfig> = { imageSize: 32, patchSize: 2, embedDim: 16, depths: [2, 2, 2, 2], numHeads: [2, 4, 8, 8], windowSize: 4, numClasses: 5 };
// 28x28 grayscale, patch 2: a 14x14 map with windows of 7 shifted by 3, then one 7x7 window.
const gray: Partial<SwinConfig> = { imageSize: 28, patchSize: 2, inChans: 1, embedDim: 12, depths: [2, 2], numHeads: [2, 4], windowSize: 7, numClasses: 4 };

for (const variant of [
  { name: "4 stages, windows of 4 shifted by 2", cfg: small, shifted: [true, true, false, false] },
  { name: "grayscale, windows of 7 shifted by 3", cfg: gray, shifted: [true, false] },
]) {
  test(`Swin forward and gradients match the PyTorch reference (${variant.name})`, () => {
    manualSeed(1); // the initial weights too, so the reported numbers repeat
    const model = new SwinTransformer(variant.cfg);
    assert.deepEqual([...model.layers].map((s) => s.blocks.at(1).shiftSize > 0), variant.shifted, "which stages shift");
    const r = checkParity(model, "swin_ref.py", model.cfg, 3);
    console.log(`swin ${variant.name}: logits max rel ${r.logits.maxRel.toExponential(2)}, grads worst ${r.grads.maxRelToScale.toExponential(2)} (${r.grads.worstKey}, ${r.grads.checked} tensors)`);
    assert.ok(r.logits.maxRel < 1e-4, `logits differ by ${r.logits.maxRel}`);
    assert.ok(r.grads.maxRelToScale < 1e-4, `gradient of ${r.grads.worstKey} differs by ${r.grads.maxRelToScale}`);
  });
}

test("relative position index and shifted-window mask equal timm's construction", () => {
  const cases = [
    { ws: 4, res: 8, shift: 2 },
    { ws: 7, res: 14, shift: 3 },
    { ws: 3, res: 9, shift: 1 },
  ];
  const script = `
import sys, json; sys.path.insert(0, sys.argv[1])
import swin_ref
out = []
for c in json.loads(sys.argv[2]):
    b = swin_ref.SwinTransformerBlock(8, c["res"], 2, c["ws"], c["shift"], 4, True)
    out.append({"index": b.attn.relative_position_index.flatten().tolist(), "mask": b.attn_mask.flatten().tolist()})
print(json.dumps(out))`;
  const refDir = resolve(new URL("../../..", import.meta.url).pathname, "test/reference");
  const ref = JSON.parse(runPython(script, [refDir, JSON.stringify(cases)])) as { index: number[]; mask: number[] }[];
  cases.forEach((c, i) => {
    assert.deepEqual(relativePositionIndex(c.ws, c.ws).toArray(), ref[i].index, `index, window ${c.ws}`);
    const mask = shiftedWindowMask(c.res, c.res, c.ws, c.shift);
    assert.deepEqual(mask.shape, [(c.res / c.ws) ** 2, c.ws * c.ws, c.ws * c.ws]);
    assert.deepEqual(mask.toArray(), ref[i].mask, `mask, ${c.res}x${c.res} window ${c.ws} shift ${c.shift}`);
  });
});

test("Swin keys follow timm >= 0.9 names; index and mask are non-persistent buffers", () => {
  const model = new SwinTransformer(small);
  const keys = [...model.stateDict().keys()];
  assert.deepEqual(keys.slice(0, 4), ["patch_embed.proj.weight", "patch_embed.proj.bias", "patch_embed.norm.weight", "patch_embed.norm.bias"]);
  const block = "layers.0.blocks.1.";
  assert.deepEqual(keys.filter((k) => k.startsWith(block)), [
    "norm1.weight", "norm1.bias", "attn.relative_position_bias_table", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
  ].map((k) => block + k));
  assert.deepEqual(keys.filter((k) => k.includes("downsample")), [1, 2, 3].flatMap((s) => [`layers.${s}.downsample.norm.weight`, `layers.${s}.downsample.norm.bias`, `layers.${s}.downsample.reduction.weight`]));
  assert.equal(keys.indexOf("layers.1.downsample.norm.weight") + 3, keys.indexOf("layers.1.blocks.0.norm1.weight"), "merging starts stage 1");
  assert.deepEqual(model.getParameter("layers.1.downsample.reduction.weight").shape, [32, 64]);
  assert.deepEqual(model.getParameter("layers.0.blocks.0.attn.relative_position_bias_table").shape, [49, 2]);
  assert.deepEqual(model.getParameter("layers.3.blocks.0.attn.relative_position_bias_table").shape, [9, 8], "window shrunk to the 2x2 map");
  assert.deepEqual(keys.slice(-4), ["norm.weight", "norm.bias", "head.fc.weight", "head.fc.bias"]);
  assert.ok(!keys.some((k) => /relative_position_index|attn_mask/.test(k)));
  const buffers = model.namedBuffers();
  assert.ok(buffers.every((b) => !b.persistent));
  assert.deepEqual(buffers.filter((b) => b.name.endsWith("attn_mask")).map((b) => b.name), ["layers.0.blocks.1.attn_mask", "layers.1.blocks.1.attn_mask"]);
  assert.equal(buffers.filter((b) => b.name.endsWith("relative_position_index")).length, 8);
  assert.deepEqual([...model.noWeightDecay()].length, 8);
  assert.ok(model.noWeightDecay().has("layers.2.blocks.1.attn.relative_position_bias_table"));
});

test("stochastic depth rises linearly over all blocks of all stages", () => {
  const model = new SwinTransformer({ ...small, dropPathRate: 0.14 });
  const rates = [...model.layers].flatMap((s) => [...s.blocks].map((b) => (b.drop_path1 instanceof DropPath ? b.drop_path1.p : 0)));
  const want = [0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14];
  rates.forEach((r, i) => assert.ok(Math.abs(r - want[i]) < 1e-12, `block ${i}: ${r} != ${want[i]}`));
  assert.equal(new SwinTransformer(small).cfg.dropPathRate, 0.1, "timm's Swin default");
});

test("configs whose maps cannot be merged or windowed are refused naming the stage", () => {
  assert.throws(() => new SwinTransformer({ ...gray, depths: [2, 2, 2], numHeads: [2, 4, 8] }), (e: unknown) => e instanceof PftError && e.code === "config" && /stage 2 .*7x7/.test(e.message));
  assert.throws(() => new SwinTransformer({ ...small, windowSize: 5 }), (e: unknown) => e instanceof PftError && e.code === "config" && /stage 0's 16x16 map/.test(e.message));
});

test("Swin-B has timm's parameter count, runs a 224x224 forward, and its catalog is Table 6's", () => {
  const model = createModel("swin_base_patch4_window7_224");
  assert.equal(model.countParameters(), 87_768_224);
  const out = noGrad(() => model.eval().forward(Tensor.randn([1, 3, 224, 224])));
  assert.deepEqual(out.shape, [1, 1000]);
  assert.ok(out.isfinite().all().item());
  const cat = catalogOf(model);
  assert.equal(cat.arch, "swin");
  assert.deepEqual(cat.depths, [2, 2, 18, 2]);
  assert.deepEqual(cat.groups.map((g) => [g.id, g.units.length]), [
    ["stage0.attn", 2], ["stage0.ffn", 2], ["stage1.attn", 2], ["stage1.ffn", 2],
    ["stage2.attn", 18], ["stage2.ffn", 18], ["stage3.attn", 2], ["stage3.ffn", 2],
  ]);
  const attn = cat.units.find((u) => u.name === "layers.2.blocks.5.attn")!;
  const p = "layers.2.blocks.5.";
  assert.deepEqual([...attn.params].sort(), ["norm1.weight", "norm1.bias", "attn.relative_position_bias_table", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias"].map((k) => p + k).sort());
  assert.equal(attn.numel, 2 * 512 + 169 * 16 + 512 * 1536 + 1536 + 512 * 512 + 512);
  const ffn = cat.units.find((u) => u.name === "layers.2.blocks.5.ffn")!;
  assert.equal(ffn.numel, 2 * 512 + 512 * 2048 + 2048 + 2048 * 512 + 512);
  assert.deepEqual([...new Set(cat.others.map((o) => o.role))].sort(), ["downsample", "head", "norm", "patch_embed"]);
  assert.deepEqual(cat.others.filter((o) => o.role === "downsample").map((o) => o.name), [1, 2, 3].flatMap((s) => [`layers.${s}.downsample.norm.bias`, `layers.${s}.downsample.norm.weight`, `layers.${s}.downsample.reduction.weight`]));
  assert.equal(cat.total, 87_768_224);
  model.dispose();
});

test("the registered small configs build and run", () => {
  for (const [name, params] of [["swin_micro_patch2_window4_32", 3_075_142], ["swin_micro_patch2_window7_28", 529_288]] as const) {
    const m = createModel(name, { numClasses: 10 });
    assert.equal(m.countParameters(), params, name);
    const out = noGrad(() => m.eval().forward(Tensor.randn([2, m.inChans, m.imageSize, m.imageSize])));
    assert.deepEqual(out.shape, [2, 10]);
    m.dispose();
  }
});

test("the four-stage grayscale micro Swin: 32x32x1 in, maps 16/8/4/2, shifted windows in stages 0-1, Table 7's group structure", () => {
  const m = createModel("swin_micro4_patch2_window4_32_gray") as SwinTransformer;
  assert.equal(m.countParameters(), 676_310);
  assert.deepEqual([m.inChans, m.imageSize, m.numClasses], [1, 32, 10]);
  assert.deepEqual([...m.layers].map((s) => s.blocks.at(0).resolution), [16, 8, 4, 2]);
  assert.deepEqual([...m.layers].map((s) => s.blocks.at(1).shiftSize > 0), [true, true, false, false]);
  const cat = catalogOf(m);
  assert.deepEqual(cat.depths, [2, 2, 4, 2]);
  assert.deepEqual(cat.groups.map((g) => [g.id, g.units.length]), [
    ["stage0.attn", 2], ["stage0.ffn", 2], ["stage1.attn", 2], ["stage1.ffn", 2],
    ["stage2.attn", 4], ["stage2.ffn", 4], ["stage3.attn", 2], ["stage3.ffn", 2],
  ]);
  for (const g of cat.groups) assert.equal(new Set(g.units.map((u) => u.numel)).size, 1, `${g.id} is homogeneous`);
  const out = noGrad(() => m.eval().forward(Tensor.randn([2, 1, 32, 32])));
  assert.deepEqual(out.shape, [2, 10]);
  assert.ok(out.toArray().every(Number.isFinite));
  m.dispose();
});

test("Swin's unit rules detect no other family's keys, and no other family's rules detect Swin's", () => {
  const model = new SwinTransformer(small);
  const swinKeys = [...model.stateDict().keys()];
  const vitKeys = [...new VisionTransformer({ imageSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 4 }).stateDict().keys()];
  const convnextKeys = ["stem.0.weight", "stages.0.blocks.0.conv_dw.weight", "stages.0.blocks.0.mlp.fc1.weight", "head.fc.weight"];
  const asmlpKeys = ["patch_embed.proj.weight", "layers.0.blocks.0.norm1.weight", "layers.0.blocks.0.axial_shift.conv1.weight", "layers.0.blocks.0.mlp.fc1.weight", "head.weight"];
  assert.equal(SWIN_UNITS.detect(vitKeys), false);
  assert.equal(SWIN_UNITS.detect(convnextKeys), false);
  assert.equal(SWIN_UNITS.detect(asmlpKeys), false);
  assert.equal(VIT_UNITS.detect(swinKeys), false);
});

test("loading: a pre-0.9 checkpoint (merging at stage ends, head.*, saved buffers) is converted", () => {
  const src = new SwinTransformer(small);
  const old = new Map<string, Tensor>();
  for (const [k, v] of src.stateDict()) {
    const key = k.replace(/^layers\.(\d+)\.downsample\./, (_m, s: string) => `layers.${Number(s) - 1}.downsample.`).replace(/^head\.fc\./, "head.");
    old.set(key, v);
  }
  old.set("layers.0.blocks.0.attn.relative_position_index", relativePositionIndex(4, 4));
  old.set("layers.0.blocks.1.attn_mask", shiftedWindowMask(16, 16, 4, 2));
  assert.ok(old.has("layers.0.downsample.reduction.weight") && old.has("head.weight"));
  const dst = new SwinTransformer(small);
  const report = loadPretrained(dst, old);
  assert.equal(report.headReset, null);
  for (const [k, v] of src.stateDict()) assert.ok(dst.stateDict().get(k)!.equal(v), k);
  assert.equal(old.size, src.stateDict().size + 2, "the filter leaves its input alone");
});

test("loading: a wrong shape fails naming the first offending key", () => {
  const dst = new SwinTransformer(small);
  const wide = new SwinTransformer({ ...small, embedDim: 32 });
  assert.throws(() => loadPretrained(dst, wide.stateDict()), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /'patch_embed\.proj\.weight'/.test(e.message));
  const otherWindow = new SwinTransformer({ ...small, windowSize: 2 });
  assert.throws(() => loadPretrained(dst, otherWindow.stateDict()), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /'layers\.0\.blocks\.0\.attn\.relative_position_bias_table'/.test(e.message));
});

test("resetClassifier swaps head.fc, and 0 classes leaves pooled features", () => {
  const model = new SwinTransformer(small);
  model.resetClassifier(3);
  assert.deepEqual(model.getParameter("head.fc.weight").shape, [3, 128]);
  model.resetClassifier(0);
  assert.ok(![...model.stateDict().keys()].some((k) => k.startsWith("head.")));
  const out = noGrad(() => model.eval().forward(Tensor.randn([2, 3, 32, 32])));
  assert.deepEqual(out.shape, [2, 128]);
});

test("under bf16 autocast the block and merging norms feed their linears in bf16 (fused), as PFT_FUSED_LAYER_NORM=0 in float32 then cast", () => {
  const fused = autocastRun("swin_micro_patch2_window4_32", "layers.0.blocks.0.norm1.weight");
  const composed = autocastRun("swin_micro_patch2_window4_32", "layers.0.blocks.0.norm1.weight", { PFT_FUSED_LAYER_NORM: "0" });
  assert.deepEqual([fused.fused, composed.fused], [true, false]);
  // Every block norm and every merging's norm is fused, from the float32 stream of stage 1 and
  // from the bf16 stream after each merging; the patch embedding's and the final norm are not.
  const blocks = fused.depths.reduce((a, b) => a + b, 0);
  assert.equal(fused.layerNorms, 2, "layer_norm calls with the fused kernel");
  assert.equal(composed.layerNorms, 2 + 2 * blocks + fused.depths.length - 1, "layer_norm calls composed");
  // the same bf16 values up to an occasional last-bit rounding of a normalised element
  assertClose(fused.out, composed.out, 3e-2, 3e-2, "logits");
  assertClose(fused.grad, composed.grad, 5e-2, 5e-3, "norm1 weight gradient");
  assert.ok(fused.grad.some((v) => v !== 0));
});
