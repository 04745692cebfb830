// The trainer on synthetic data: frozen parameters stay bit-identical, the no-grad prefix gives
// the same gradients as a fully recorded graph, resume equals an uninterrupted run bit for bit,
// the NaN guard stops the run keeping the last good checkpoint, and training actually learns.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { F, manualSeed, PftError } from "../../src/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { readSafetensors } from "../../src/nn/index.js";
import { train, trainConfig, forwardPartial, type Batch } from "../../src/train/index.js";
import { tempDir } from "../helpers/reference.js";
import { dropPathRun, quiet, synthetic, tiny } from "./synthetic.js";

const attnNames = (m: VisionTransformer) => m.namedParameters().map((n) => n.name).filter((n) => /^blocks\.\d+\.(norm1|attn)\./.test(n) || n.startsWith("head."));

test("frozen parameters are bit-identical after training; trainable ones moved", () => {
  manualSeed(1);
  const model = tiny();
  const before = new Map([...model.stateDict()].map(([k, v]) => [k, v.bytes()]));
  const names = attnNames(model);
  const result = train({ model, trainable: names, train: synthetic(64, 1), val: null, config: trainConfig({ epochs: 1, batchSize: 16, precision: "fp32" }), outDir: null, progress: quiet });
  assert.equal(result.trainable, names.reduce((s, n) => s + model.getParameter(n).numel(), 0));
  for (const [k, v] of model.stateDict()) {
    const same = Buffer.from(v.bytes()).equals(Buffer.from(before.get(k)!));
    assert.equal(same, !names.includes(k), `${k} ${same ? "did not change" : "changed"}`);
  }
});

test("the no-grad frozen prefix gives the same gradients on trainable parameters as a fully recorded graph", () => {
  manualSeed(2);
  const model = tiny().eval();
  // Only the last FFN unit and the head train: the embedding and 3 of 4 units are the prefix.
  model.freezeAll();
  model.setTrainable((n) => n.startsWith("blocks.1.norm2") || n.startsWith("blocks.1.mlp") || n.startsWith("head."), true);
  const batch = synthetic(16, 2).batches(0)[Symbol.iterator]().next().value as Batch;
  F.crossEntropy(forwardPartial(model, batch.x), batch.y).backward();
  const partial = model.trainableParameters().map((n) => n.param.grad!.toArray());
  model.zeroGrad();
  const recorded = batch.x.clone().requiresGrad_(true); // forces autograd to record every op
  F.crossEntropy(model.forward(recorded), batch.y).backward();
  assert.ok(recorded.grad, "the full graph was recorded");
  model.trainableParameters().forEach((n, i) => assert.deepEqual(n.param.grad!.toArray(), partial[i], n.name));
});

test("kill and resume ends with exactly the weights of an uninterrupted run", () => {
  const cfg = trainConfig({ epochs: 3, batchSize: 16, precision: "bf16", seed: 5, ema: 0.9, lr: 3e-3 });
  const run = dropPathRun(cfg);
  const a = tempDir();
  const b = tempDir();
  try {
    run(a.dir);
    const halted = run(b.dir, 1);
    assert.equal(halted.halted, true);
    assert.ok(existsSync(join(b.dir, "ckpt-000001")));
    run(b.dir, 1); // resumes at epoch 1, stops after epoch 2
    run(b.dir); // resumes at epoch 2, finishes
    const wa = readSafetensors(join(a.dir, "model.safetensors")).tensors;
    const wb = readSafetensors(join(b.dir, "model.safetensors")).tensors;
    for (const [k, v] of wa) assert.ok(Buffer.from(v.bytes()).equals(Buffer.from(wb.get(k)!.bytes())), `${k} differs after resume`);
    const lines = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines(b.dir).map((l) => l.epoch), [1, 2, 3]);
    assert.deepEqual(lines(b.dir).map((l) => l.trainLoss), lines(a.dir).map((l) => l.trainLoss));
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("resuming with a different configuration is refused", () => {
  const d = tempDir();
  try {
    const go = (lr: number) => train({ model: tiny(), trainable: "all", train: synthetic(32, 3), val: null, config: trainConfig({ epochs: 2, batchSize: 16, lr }), outDir: d.dir, resume: true, progress: quiet, haltAfterEpochs: 1 });
    go(1e-3);
    assert.throws(() => go(2e-3), (e: unknown) => e instanceof PftError && e.code === "config" && /different configuration/.test(e.message));
    // Callers (the study) tell this case apart by its reason, not its wording.
    assert.throws(() => go(2e-3), (e: unknown) => e instanceof PftError && e.reason === "resume-mismatch");
  } finally {
    d.cleanup();
  }
});

test("a NaN loss stops the run with a clear message and keeps the last good checkpoint", () => {
  const d = tempDir();
  try {
    assert.throws(
      () => train({ model: tiny(), trainable: "all", train: synthetic(48, 6, { poisonEpoch: 1 }), val: null, config: trainConfig({ epochs: 3, batchSize: 16 }), outDir: d.dir, progress: quiet }),
      (e: unknown) => e instanceof PftError && e.code === "numeric" && /loss is NaN at epoch 2, step 2: stopping; the last good checkpoint is kept/.test(e.message),
    );
    assert.equal(JSON.parse(readFileSync(join(d.dir, "latest.json"), "utf8")).epoch, 1);
    const w = readSafetensors(join(d.dir, "ckpt-000001", "model.safetensors")).tensors;
    for (const [k, v] of w) assert.ok(v.isfinite().all().item(), `${k} is finite`);
  } finally {
    d.cleanup();
  }
});

test("training learns the synthetic task (validation accuracy far above chance)", () => {
  manualSeed(3);
  const r = train({ model: tiny(), trainable: "all", train: synthetic(256, 7), val: synthetic(96, 8), config: trainConfig({ epochs: 4, batchSize: 16, lr: 3e-3, warmupEpochs: 0.5 }), outDir: null, progress: quiet });
  // Chance is 1/3; the patterns are separable at this noise level.
  assert.ok(r.best && r.best.acc > 0.9, `best validation accuracy ${r.best?.acc}`);
  assert.ok(r.epochs[r.epochs.length - 1].trainLoss < r.epochs[0].trainLoss, "loss decreased");
});

test("bad configurations are clear errors", () => {
  assert.throws(() => trainConfig({ lrr: 1 }), /unknown training option 'lrr'/);
  assert.throws(() => trainConfig({ epochs: 0 }), /invalid value for training option 'epochs'/);
  assert.throws(() => trainConfig({ precision: "fp8" }), /precision/);
  assert.throws(
    () => train({ model: tiny(), trainable: ["blocks.9.attn.qkv.weight"], train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 1, batchSize: 16 }), outDir: null, progress: quiet }),
    /does not have/,
  );
});
