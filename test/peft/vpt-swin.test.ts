// VPT-Deep on Swin (src/peft/vpt-swin.ts): parity with a PyTorch reference of the VPT authors'
// Swin variant, the token layout, gradients reaching exactly the prompts and the head, a short
// training run with a bit-identical frozen backbone, and the checkpoint API kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, F, PftError, manualSeed, noGrad } from "../../src/index.js";
import { SwinTransformer, createModel, type SwinConfig } from "../../src/models/index.js";
import { train, trainConfig } from "../../src/train/index.js";
import { addedShapes, applyMethod, methodSpec, PromptedSwin } from "../../src/peft/index.js";
import { checkParity } from "../helpers/parity.js";
import { quiet, snapshot, textures } from "./helpers.js";

// 32x32, patch 2, windows of 4: 16x16 and 8x8 maps have several shifted windows (with masks), 4x4
// and 2x2 are one window each. Batch 3, so the per-image window average is exercised.
const parityCfg: Partial<SwinConfig> = { imageSize: 32, patchSize: 2, embedDim: 8, depths: [2, 2, 2, 2], numHeads: [2, 2, 4, 4], windowSize: 4, numClasses: 5, dropPathRate: 0 };
// The textures' 8x8 grayscale: an 8x8 map of four shifted 4x4 windows, then one 4x4 window.
const tinySwin = (numClasses = 3) => new SwinTransformer({ imageSize: 8, patchSize: 1, inChans: 1, embedDim: 8, depths: [2, 2], numHeads: [2, 2], windowSize: 4, numClasses, dropPathRate: 0 });

test("VPT-Deep Swin forward and gradients match the PyTorch reference (4 stages, shifted windows, batch 3)", () => {
  manualSeed(3);
  const model = new PromptedSwin(new SwinTransformer(parityCfg), 3);
  const r = checkParity(model, "vpt_swin_ref.py", { ...model.cfg, prompts: 3 }, 3);
  console.log(`vpt swin: logits max rel ${r.logits.maxRel.toExponential(2)}, grads worst ${r.grads.maxRelToScale.toExponential(2)} (${r.grads.worstKey}, ${r.grads.checked} tensors)`);
  assert.ok(r.logits.maxRel < 1e-4, `logits differ by ${r.logits.maxRel}`);
  assert.ok(r.grads.maxRelToScale < 1e-4, `gradient of ${r.grads.worstKey} differs by ${r.grads.maxRelToScale}`);
  model.dispose();
});

test("VPT-Deep on Swin: one prompt table per stage, P + H·W tokens pooled, the plain Swin's keys kept", () => {
  manualSeed(5);
  const base = new SwinTransformer(parityCfg);
  const shapes = new Map(base.namedParameters().map((n) => [n.name, n.param.shape]));
  const keys = [...shapes.keys()];
  const peft = applyMethod(base, methodSpec("vpt", { prompts: 3 }));
  assert.deepEqual(peft.added, ["prompt_embeddings.0", "prompt_embeddings.1", "prompt_embeddings.2", "prompt_embeddings.3"]);
  // depth_s rows of P prompts of the stage's width (8, 16, 32, 64).
  assert.deepEqual(peft.added.map((n) => peft.model.getParameter(n).shape), [[2, 3, 8], [2, 3, 16], [2, 3, 32], [2, 3, 64]]);
  assert.deepEqual(new Map(peft.added.map((n) => [n, peft.model.getParameter(n).shape])), addedShapes(shapes, peft.spec));
  assert.deepEqual(peft.model.namedParameters().map((n) => n.name).filter((n) => !n.startsWith("prompt_embeddings.")), keys, "the Swin's keys, same order");
  assert.deepEqual(peft.trainable, [...peft.added, "head.fc.weight", "head.fc.bias"]);
  const bound = Math.sqrt(6 / (3 * 2 * 2 + 8));
  for (const n of peft.added) assert.ok(peft.model.getParameter(n).value.abs().amax().item() <= bound, `${n} within ±${bound}`);
  const x = Tensor.randn([2, 3, 32, 32]);
  noGrad(() => {
    // The last stage is a 2x2 map: 3 prompts + 4 patches of width 64 in one row.
    assert.deepEqual(peft.model.forwardFeatures(x).shape, [2, 1, 3 + 4, 64]);
    assert.deepEqual(peft.model.forward(x).shape, [2, 5]);
  });
  assert.ok([...peft.model.noWeightDecay()].filter((n) => n.startsWith("prompt_embeddings.")).length === 4, "prompts are excluded from weight decay");
  assert.equal(peft.remove(), base);
  base.dispose();
});

test("VPT-Deep on Swin: the prompts change the output and receive gradients; frozen weights get none", () => {
  manualSeed(6);
  const base = new SwinTransformer(parityCfg);
  const x = Tensor.randn([2, 3, 32, 32]);
  const plain = noGrad(() => base.forward(x).detach().clone());
  const peft = applyMethod(base, methodSpec("vpt", { prompts: 2 }));
  const y = Tensor.from([1, 4], [2], { dtype: "int64" });
  const logits = peft.model.forward(x);
  assert.ok(!logits.detach().allclose(plain, 1e-3, 1e-3), "prompts change the logits");
  F.crossEntropy(logits, y).backward();
  const trainable = new Set(peft.trainable);
  for (const { name, param } of peft.model.namedParameters()) {
    if (trainable.has(name)) assert.ok(param.grad && param.grad.abs().amax().item() > 0, `${name} has a non-zero gradient`);
    else assert.equal(param.grad, null, `${name} is frozen`);
  }
  peft.model.dispose();
});

test("VPT-Deep on Swin trains a few steps: the prompts and head move, the frozen backbone stays bit-identical, the loss falls", () => {
  manualSeed(8);
  const peft = applyMethod(tinySwin(), methodSpec("vpt", { prompts: 4 }));
  const model = peft.model;
  const before = snapshot(model);
  const r = train({ model, trainable: peft.trainable, train: textures(96, 2), val: textures(48, 3), config: trainConfig({ epochs: 2, batchSize: 16, lr: 1e-2, warmupEpochs: 0.25, weightDecay: 0, precision: "fp32" }), outDir: null, progress: quiet });
  assert.equal(r.trainable, peft.trainable.reduce((s, n) => s + model.getParameter(n).numel(), 0));
  const after = snapshot(model);
  const trainable = new Set(peft.trainable);
  for (const [k, v] of before) assert.equal(v.equals(after.get(k)!), !trainable.has(k), `${k}`);
  const losses = r.epochs.map((e) => e.trainLoss);
  assert.ok(losses[losses.length - 1] < losses[0], `train loss ${losses.join(" -> ")}`);
  model.dispose();
});

test("VPT-Deep does not merge and stays refused for ConvNeXt and AS-MLP", () => {
  const peft = applyMethod(tinySwin(), methodSpec("vpt", { prompts: 2 }));
  assert.equal(peft.mergeable, false);
  assert.throws(() => peft.merge(), /cannot be merged/);
  peft.model.dispose();
  for (const name of ["convnext_micro_28", "asmlp_micro_patch2_28"]) {
    const model = createModel(name);
    assert.throws(() => applyMethod(model, methodSpec("vpt")), (e: unknown) => e instanceof PftError && e.code === "config" && /ViT and Swin only/.test(e.message), name);
    model.dispose();
  }
});
