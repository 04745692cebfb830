// ConvNeXt: parity with a timm-structured PyTorch reference, timm's parameter names and counts,
// the residual-unit catalog (Table 6), checkpoint loading and the FB-layout checkpoint filter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, noGrad, PftError, manualSeed } from "../../src/index.js";
import { DropPath, Identity, type StateDict } from "../../src/nn/index.js";
import { ConvNeXt, createModel, catalogOf, loadPretrained, convnextCheckpointFilter, type ConvNeXtConfig } from "../../src/models/index.js";
import { checkParity } from "../helpers/parity.js";
import { assertClose } from "../helpers/reference.js";
import { autocastRun } from "../helpers/autocast-run.js";

/** Two stages at 4x4 and 2x2 px, a downsample between them. */
const small: Partial<ConvNeXtConfig> = { imageSize: 16, patchSize: 4, depths: [1, 2], dims: [8, 16], numClasses: 5 };

for (const variant of [
  { name: "patch-4 stem, 2 stages, layer scale", cfg: { ...small } },
  // A stride-2 stem: timm downsamples in stage 0 too (8 -> 4 -> 2 -> 1 px); no gamma.
  { name: "patch-2 stem, 3 stages, no layer scale", cfg: { ...small, patchSize: 2, depths: [1, 1, 1], dims: [8, 16, 24], lsInitValue: null } },
]) {
  test(`ConvNeXt forward and gradients match the PyTorch reference (${variant.name})`, () => {
    manualSeed(1); // the initial weights too, so the reported numbers repeat (checkParity seeds only its perturbation)
    const model = new ConvNeXt(variant.cfg);
    const r = checkParity(model, "convnext_ref.py", model.cfg, 3);
    console.log(`convnext ${variant.name}: logits max rel ${r.logits.maxRel.toExponential(2)}, grads worst ${r.grads.maxRelToScale.toExponential(2)} (${r.grads.worstKey}, ${r.grads.checked} tensors)`);
    assert.ok(r.logits.maxRel < 1e-4, `logits differ by ${r.logits.maxRel}`);
    assert.ok(r.grads.maxRelToScale < 1e-4, `gradient of ${r.grads.worstKey} differs by ${r.grads.maxRelToScale}`);
    model.dispose();
  });
}

test("ConvNeXt keys and shapes follow timm's names and order", () => {
  const model = new ConvNeXt(small);
  const sd = model.stateDict();
  const keys = [...sd.keys()];
  assert.deepEqual(keys.slice(0, 4), ["stem.0.weight", "stem.0.bias", "stem.1.weight", "stem.1.bias"]);
  // Stage 0 keeps the stem's resolution and channels: no downsample.
  assert.deepEqual(keys.slice(4, 15), [
    "stages.0.blocks.0.gamma", "stages.0.blocks.0.conv_dw.weight", "stages.0.blocks.0.conv_dw.bias",
    "stages.0.blocks.0.norm.weight", "stages.0.blocks.0.norm.bias",
    "stages.0.blocks.0.mlp.fc1.weight", "stages.0.blocks.0.mlp.fc1.bias", "stages.0.blocks.0.mlp.fc2.weight", "stages.0.blocks.0.mlp.fc2.bias",
    "stages.1.downsample.0.weight", "stages.1.downsample.0.bias",
  ]);
  assert.deepEqual(keys.slice(15, 18), ["stages.1.downsample.1.weight", "stages.1.downsample.1.bias", "stages.1.blocks.0.gamma"]);
  assert.deepEqual(keys.slice(-4), ["head.norm.weight", "head.norm.bias", "head.fc.weight", "head.fc.bias"]);
  assert.ok(!keys.some((k) => k.startsWith("stages.0.downsample")));
  assert.deepEqual(sd.get("stem.0.weight")!.shape, [8, 3, 4, 4]);
  assert.deepEqual(sd.get("stages.0.blocks.0.conv_dw.weight")!.shape, [8, 1, 7, 7]);
  assert.deepEqual(sd.get("stages.1.downsample.1.weight")!.shape, [16, 8, 2, 2]);
  assert.deepEqual(sd.get("stages.1.blocks.1.mlp.fc1.weight")!.shape, [64, 16]);
  assert.deepEqual(sd.get("head.fc.weight")!.shape, [5, 16]);
  assert.ok(sd.get("stages.1.blocks.1.gamma")!.allclose(Tensor.full([16], 1e-6)), "layer scale starts at 1e-6");
  assert.deepEqual(sd.get("stages.1.blocks.1.conv_dw.bias")!.toArray(), new Array(16).fill(0));
  model.dispose();
});

test("stochastic depth rises linearly over all blocks of all stages", () => {
  const model = new ConvNeXt({ ...small, dropPathRate: 0.3 });
  const rates = [...model.stages].flatMap((s) => [...s.blocks].map((b) => (b.drop_path instanceof DropPath ? b.drop_path.p : b.drop_path instanceof Identity ? 0 : NaN)));
  assert.deepEqual(rates.map((r) => Number(r.toFixed(6))), [0, 0.15, 0.3]);
  model.dispose();
});

test("ConvNeXt-B has timm's parameter count, runs a 224x224 forward, and its catalog is Table 6's", () => {
  const model = createModel("convnext_base");
  assert.equal(model.arch, "convnext");
  assert.equal(model.countParameters(), 88_591_464);
  const out = noGrad(() => model.eval().forward(Tensor.randn([1, 3, 224, 224])));
  assert.deepEqual(out.shape, [1, 1000]);
  const cat = catalogOf(model);
  assert.deepEqual(cat.depths, [3, 3, 27, 3]);
  assert.deepEqual(cat.groups.map((g) => [g.id, g.kind, g.units.length]), [["stage0.block", "block", 3], ["stage1.block", "block", 3], ["stage2.block", "block", 27], ["stage3.block", "block", 3]]);
  const blk = cat.units.find((u) => u.name === "stages.2.blocks.20")!;
  const p = (n: string) => `stages.2.blocks.20.${n}`;
  assert.deepEqual([...blk.params].sort(), [p("gamma"), p("conv_dw.weight"), p("conv_dw.bias"), p("norm.weight"), p("norm.bias"), p("mlp.fc1.weight"), p("mlp.fc1.bias"), p("mlp.fc2.weight"), p("mlp.fc2.bias")].sort());
  const c = 512;
  assert.equal(blk.numel, c + c * 49 + c + 2 * c + c * 4 * c + 4 * c + 4 * c * c + c);
  assert.deepEqual([...new Set(cat.others.map((o) => o.role))].sort(), ["downsample", "head", "norm", "patch_embed"]);
  assert.deepEqual(cat.others.filter((o) => o.role === "downsample").map((o) => o.name.split(".")[1]).filter((s, i, a) => a.indexOf(s) === i), ["1", "2", "3"]);
  model.dispose();
});

test("registered small variants build, and their last stage keeps >= 1 px", () => {
  for (const [name, chans, side] of [["convnext_micro_32", 3, 32], ["convnext_micro_28", 1, 28]] as const) {
    const model = createModel(name, { numClasses: 4 });
    assert.deepEqual([model.inChans, model.imageSize], [chans, side]);
    const out = noGrad(() => model.eval().forward(Tensor.randn([2, chans, side, side])));
    assert.deepEqual(out.shape, [2, 4]);
    assert.equal(catalogOf(model).groups.length, 4);
    model.dispose();
  }
  // 28 / 4 = 7 -> 3 -> 1 -> 0: refused at construction, naming the sizes.
  assert.throws(() => new ConvNeXt({ imageSize: 28 }), (e: unknown) => e instanceof PftError && e.code === "config" && /shrinks to nothing \(sides per stage 7, 3, 1, 0/.test(e.message));
});

test("the forward pass as segments equals forward()", () => {
  const model = new ConvNeXt({ ...small, patchSize: 2, depths: [1, 1, 1], dims: [8, 16, 24] }).eval();
  const segs = model.segments();
  assert.deepEqual(segs.map((s) => s.name), ["stem", "stages.0.downsample", "stages.0.blocks.0", "stages.1.downsample", "stages.1.blocks.0", "stages.2.downsample", "stages.2.blocks.0", "head"]);
  assert.equal(segs.reduce((n, s) => n + s.parameters.length, 0), model.parameters().length);
  const x = Tensor.randn([2, 3, 16, 16]);
  noGrad(() => {
    let h = x;
    for (const s of segs) h = s.run(h);
    assert.ok(h.allclose(model.forward(x), 1e-6, 1e-7));
  });
  model.dispose();
});

test("loading: a wrong shape or another architecture fails naming the first offending key", () => {
  const dst = new ConvNeXt(small);
  const wide = new ConvNeXt({ ...small, dims: [8, 32] });
  assert.throws(() => loadPretrained(dst, wide.stateDict()), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /'stages\.1\.downsample\.1\.weight'/.test(e.message));
  const foreign = new Map([["cls_token", Tensor.zeros([1, 1, 8])], ["blocks.0.attn.qkv.weight", Tensor.zeros([24, 8])]]);
  assert.throws(() => loadPretrained(dst, foreign), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /missing key 'stem\.0\.weight'/.test(e.message));
});

test("checkpoint filter: the original FB layout maps onto timm's names, and loads strictly", () => {
  const src = new ConvNeXt(small);
  const dst = new ConvNeXt(small);
  const timm = src.stateDict();
  // facebookresearch/ConvNeXt names for the same tensors.
  const fbName = (k: string) =>
    k
      .replace(/^stem\./, "downsample_layers.0.")
      .replace(/^stages\.(\d+)\.downsample\./, "downsample_layers.$1.")
      .replace(/^stages\.(\d+)\.blocks\.(\d+)\./, "stages.$1.$2.")
      .replace(".conv_dw.", ".dwconv.")
      .replace(/\.mlp\.fc(\d)\./, ".pwconv$1.")
      .replace(/^head\.norm\./, "norm.")
      .replace(/^head\.fc\./, "head.");
  const fb: StateDict = new Map([...timm].map(([k, v]) => [fbName(k), v]));
  for (const k of ["downsample_layers.0.0.weight", "downsample_layers.0.1.bias", "downsample_layers.1.0.weight", "downsample_layers.1.1.weight", "stages.1.1.dwconv.weight", "stages.1.1.pwconv1.weight", "stages.1.1.pwconv2.bias", "stages.0.0.gamma", "stages.0.0.norm.weight", "norm.weight", "head.weight", "head.bias"]) {
    assert.ok(fb.has(k), `synthetic FB dict has ${k}`);
  }
  const fbKeys = [...fb.keys()];
  const out = convnextCheckpointFilter(fb, dst);
  assert.deepEqual([...fb.keys()], fbKeys, "input left as is");
  assert.deepEqual([...out.keys()].sort(), [...timm.keys()].sort());
  for (const [k, v] of timm) assert.equal(out.get(k), v, `${k} is the same tensor`);
  // A timm dict passes through untouched.
  assert.equal(convnextCheckpointFilter(timm, dst), timm);
  // And loadPretrained applies the filter.
  const report = loadPretrained(dst, fb);
  assert.deepEqual([report.missing, report.unexpected, report.headReset], [[], [], null]);
  assert.ok(dst.getParameter("stages.1.blocks.1.mlp.fc1.weight").value.equal(src.getParameter("stages.1.blocks.1.mlp.fc1.weight").value));
});

test("checkpoint filter: an OpenCLIP trunk with a projection head", () => {
  const src = new ConvNeXt(small);
  const dst = new ConvNeXt(small);
  const clip: StateDict = new Map([...src.stateDict()].filter(([k]) => !k.startsWith("head.fc.")).map(([k, v]) => [`visual.trunk.${k}`, v]));
  clip.set("visual.head.proj.weight", src.getParameter("head.fc.weight").value);
  clip.set("text.token_embedding.weight", Tensor.zeros([4, 4]));
  const out = convnextCheckpointFilter(clip, dst);
  assert.deepEqual([...out.keys()].sort(), [...src.stateDict().keys()].sort());
  assert.deepEqual(out.get("head.fc.bias")!.toArray(), [0, 0, 0, 0, 0]);
  loadPretrained(dst, clip);
});

test("under bf16 autocast a block's norm takes the conv's bf16 output straight to bf16 (fused), as PFT_FUSED_LAYER_NORM=0 in float32 then cast", () => {
  const fused = autocastRun("convnext_micro_32", "stages.1.blocks.0.norm.weight");
  const composed = autocastRun("convnext_micro_32", "stages.1.blocks.0.norm.weight", { PFT_FUSED_LAYER_NORM: "0" });
  assert.deepEqual([fused.fused, composed.fused], [true, false]);
  const blocks = fused.depths.reduce((a, b) => a + b, 0);
  assert.equal(composed.layerNorms - fused.layerNorms, blocks, `layer_norm calls: ${fused.layerNorms} fused, ${composed.layerNorms} composed`);
  assertClose(fused.out, composed.out, 3e-2, 3e-2, "logits");
  assertClose(fused.grad, composed.grad, 5e-2, 5e-3, "a stage-2 norm's weight gradient");
  assert.ok(fused.grad.some((v) => v !== 0));
});
