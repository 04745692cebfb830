// SSF on ConvNeXt and AS-MLP (src/peft/ssf.ts): the official code's sites, one stand-in per site
// with the layer's output channels, merged = unmerged within float tolerance (the merged model a
// plain checkpoint), gradients on exactly the scales, shifts and head, and a short training run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, F, manualSeed, noGrad } from "../../src/index.js";
import { ConvNeXt, AsMlp, loadPretrained, type VisionModel } from "../../src/models/index.js";
import { train, trainConfig } from "../../src/train/index.js";
import { StandIn, addedShapes, applyMethod, methodSpec } from "../../src/peft/index.js";
import { perturb, quiet, relErr, snapshot, textures } from "./helpers.js";

// 16x16 grayscale (ConvNeXt: patch-1 stem, stages at 16/8/4/2; AS-MLP: patch 2, maps 8/4/2/1).
const convnext = () => new ConvNeXt({ imageSize: 16, patchSize: 1, inChans: 1, depths: [1, 1, 2, 1], dims: [8, 16, 16, 32], numClasses: 3, dropPathRate: 0 });
const asmlp = () => new AsMlp({ imageSize: 16, patchSize: 2, inChans: 1, embedDim: 8, depths: [1, 1, 2, 1], shiftSize: 3, numClasses: 3, dropPathRate: 0 });

// Sites per family (the official code's), and how many of each the models above have (5 blocks, 3 downsamplings).
const SITES: Record<string, { make: () => VisionModel; sites: [RegExp, number][] }> = {
  convnext: {
    make: convnext,
    sites: [[/^stem\.[01]$/, 2], [/^stages\.[123]\.downsample\.[01]$/, 6], [/\.blocks\.\d+\.conv_dw$/, 5], [/\.blocks\.\d+\.norm$/, 5], [/\.mlp\.fc[12]$/, 10]],
  },
  asmlp: {
    make: asmlp,
    sites: [[/^patch_embed\.(proj|norm)$/, 2], [/\.blocks\.\d+\.norm[12]$/, 10], [/\.axial_shift\.conv(1|2_1|2_2|3)$/, 20], [/\.mlp\.fc[12]$/, 10], [/^layers\.[012]\.downsample\.norm$/, 3], [/^norm$/, 1]],
  },
};
const keysOf = (m: VisionModel) => m.namedParameters().map((n) => n.name);

for (const [arch, { make, sites }] of Object.entries(SITES)) {
  test(`SSF on ${arch}: the official sites, each scale and shift sized to its layer's output channels`, () => {
    manualSeed(1);
    const model = make();
    const shapes = new Map(model.namedParameters().map((n) => [n.name, n.param.shape]));
    const peft = applyMethod(model, methodSpec("ssf"));
    const placed = peft.added.filter((n) => n.endsWith(".ssf_scale")).map((n) => n.slice(0, -".ssf_scale".length));
    for (const [re, n] of sites) assert.equal(placed.filter((p) => re.test(p)).length, n, `${arch}: ${re}`);
    assert.equal(placed.length, sites.reduce((t, [, n]) => t + n, 0), `${arch}: ${placed.join(", ")}`);
    for (const p of placed) {
      const out = shapes.get(`${p}.weight`)![0];
      assert.deepEqual(model.getParameter(`${p}.ssf_scale`).shape, [out]);
      assert.deepEqual(model.getParameter(`${p}.ssf_shift`).shape, [out]);
    }
    // The axial shift's inner GroupNorms and the patch merging's reduction are not sites.
    assert.ok(!placed.some((p) => /axial_shift\.norm\d$|reduction$|head\./.test(p)), placed.join(", "));
    assert.deepEqual(new Map(peft.added.map((n) => [n, model.getParameter(n).shape])), addedShapes(shapes, peft.spec));
    peft.remove().dispose();
  });

  test(`SSF on ${arch}: merged into the weights equals unmerged, and the merged model is a plain checkpoint`, () => {
    manualSeed(2);
    const model = make();
    model.eval();
    const plainKeys = keysOf(model);
    const x = Tensor.randn([3, 1, 16, 16]);
    const peft = applyMethod(model, methodSpec("ssf"));
    assert.ok(peft.mergeable);
    perturb(model, peft.added, 0.2);
    const unmerged = noGrad(() => model.forward(x).detach().clone());
    const plainBefore = make();
    plainBefore.eval();
    const merged = peft.merge();
    assert.ok(!merged.modules().some((m) => m instanceof StandIn), "no stand-in left");
    assert.deepEqual(keysOf(merged), plainKeys);
    const err = relErr(noGrad(() => merged.forward(x)), unmerged);
    assert.ok(err < 1e-5, `${arch}: merged logits differ, relative error ${err}`);
    loadPretrained(plainBefore, merged.stateDict());
    assert.ok(relErr(noGrad(() => plainBefore.forward(x)), unmerged) < 1e-5, "the merged weights load into a plain model");
    plainBefore.dispose();
    merged.dispose();
  });

  test(`SSF on ${arch}: gradients reach exactly the scales, shifts and head; a short run leaves the backbone bit-identical`, () => {
    manualSeed(3);
    const peft = applyMethod(make(), methodSpec("ssf"));
    const model = peft.model;
    const x = Tensor.randn([2, 1, 16, 16]);
    F.crossEntropy(model.forward(x), Tensor.from([0, 2], [2], { dtype: "int64" })).backward();
    const trainable = new Set(peft.trainable);
    for (const { name, param } of model.namedParameters()) {
      if (trainable.has(name)) assert.ok(param.grad && param.grad.abs().amax().item() > 0, `${name} has a gradient`);
      else assert.equal(param.grad, null, `${name} is frozen`);
    }
    model.zeroGrad();
    const before = snapshot(model);
    const up = (b: { x: Tensor; y: Tensor }) => ({ x: F.interpolate(b.x, [16, 16], "nearest"), y: b.y });
    const src = textures(64, 2);
    const data = { stepsPerEpoch: src.stepsPerEpoch, *batches(epoch: number, from = 0) { for (const b of src.batches(epoch, from)) yield up(b); } };
    train({ model, trainable: peft.trainable, train: data, val: null, config: trainConfig({ epochs: 1, batchSize: 16, lr: 1e-2, warmupEpochs: 0, weightDecay: 0, precision: "fp32" }), outDir: null, progress: quiet });
    const after = snapshot(model);
    for (const [k, v] of before) assert.equal(v.equals(after.get(k)!), !trainable.has(k), k);
    model.dispose();
  });
}
