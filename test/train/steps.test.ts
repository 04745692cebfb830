// Training for a number of optimizer steps instead of epochs: the budget and the warm-up + cosine
// schedule over the steps, exactly N optimizer steps (stopping mid-epoch), the partial last epoch
// evaluated and checkpointed, kill-and-resume bit for bit, and resume refusing epochs <-> steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { manualSeed, PftError } from "../../src/index.js";
import { readSafetensors } from "../../src/nn/index.js";
import { train, trainBudget, trainConfig, type BatchSource, type TrainConfig } from "../../src/train/index.js";
import { tempDir } from "../helpers/reference.js";
import { dropPathRun, quiet, synthetic, tiny } from "./synthetic.js";

/** The schedule written out (timm's warm-up then cosine, per step), independent of src/optim. */
function expectedLr(step: number, c: { lr: number; warmupLr: number; minLr: number }, warmup: number, total: number): number {
  if (step < warmup) return c.warmupLr + (step * (c.lr - c.warmupLr)) / warmup;
  return c.minLr + 0.5 * (c.lr - c.minLr) * (1 + Math.cos((Math.PI * (step - warmup)) / (total - warmup)));
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected), `${what}: ${actual} != ${expected}`);

/** A batch source that counts the batches the trainer asked for: one per optimizer step. */
function counting(source: BatchSource): BatchSource & { made: number } {
  const counted = {
    made: 0,
    stepsPerEpoch: source.stepsPerEpoch,
    *batches(epoch: number, fromStep?: number) {
      for (const b of source.batches(epoch, fromStep)) {
        counted.made++;
        yield b;
      }
    },
  };
  return counted;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const metricLines = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

test("a steps budget: the epoch count follows from the steps, warm-up epochs convert at steps per epoch", () => {
  assert.deepEqual(trainBudget(trainConfig({ steps: 7 }), 3), { unit: "steps", steps: 7, epochs: 3, stepsPerEpoch: 3, warmupSteps: 3 });
  assert.deepEqual(trainBudget(trainConfig({ steps: 6, warmupEpochs: 0.5 }), 4), { unit: "steps", steps: 6, epochs: 2, stepsPerEpoch: 4, warmupSteps: 2 });
  assert.deepEqual(trainBudget(trainConfig({ steps: 7, warmupSteps: 1 }), 3), { unit: "steps", steps: 7, epochs: 3, stepsPerEpoch: 3, warmupSteps: 1 });
  assert.deepEqual(trainBudget(trainConfig({ epochs: 2 }), 3), { unit: "epochs", steps: 6, epochs: 2, stepsPerEpoch: 3, warmupSteps: 3 });
  assert.deepEqual(trainBudget(trainConfig({ epochs: 2, warmupSteps: 4 }), 3), { unit: "epochs", steps: 6, epochs: 2, stepsPerEpoch: 3, warmupSteps: 4 });
  // The default one-epoch warm-up under a budget far below an epoch would never reach the peak lr.
  assert.throws(() => trainBudget(trainConfig({ steps: 5 }), 100), (e: unknown) => e instanceof PftError && e.code === "config" && /warm-up \(100 steps\) is longer than the run \(5 steps\)/.test(e.message));
  assert.throws(() => trainBudget(trainConfig({ epochs: 1, warmupSteps: 4 }), 3), /warm-up \(4 steps\) is longer than the run \(3 steps\)/);
});

test("the lr over a steps run: warmupLr at step 0, the peak at the end of warm-up, the cosine at the last step", () => {
  // One step per epoch, so each epoch's record holds the lr of one step.
  manualSeed(11);
  const cfg = trainConfig({ steps: 6, warmupSteps: 2, batchSize: 16, lr: 1e-2, warmupLr: 1e-4, minLr: 1e-5, precision: "fp32" });
  const r = train({ model: tiny(), trainable: "all", train: synthetic(16, 11), val: null, config: cfg, outDir: null, progress: quiet });
  const lrs = r.epochs.map((e) => e.lr);
  assert.equal(lrs.length, 6);
  assert.equal(lrs[0], 1e-4, "step 0 is warmupLr");
  close(lrs[1], 1e-4 + (1e-2 - 1e-4) / 2, "step 1, half-way through warm-up");
  close(lrs[2], 1e-2, "step 2, the end of warm-up, is the peak");
  close(lrs[5], 1e-5 + 0.5 * (1e-2 - 1e-5) * (1 + Math.cos((Math.PI * 3) / 4)), "step 5, the last");
  lrs.forEach((lr, step) => close(lr, expectedLr(step, cfg, 2, 6), `step ${step}`));
  assert.ok(lrs[5] > cfg.minLr, "the last step is still above the floor (the floor is at step 6, after the run)");
});

test("a steps run takes exactly N optimizer steps, also when N is not a multiple of the steps per epoch", () => {
  for (const steps of [2, 6, 7]) {
    manualSeed(12);
    const source = counting(synthetic(48, 12)); // 3 steps per epoch
    const r = train({ model: tiny(), trainable: "all", train: source, val: null, config: trainConfig({ steps, warmupSteps: 1, batchSize: 16, precision: "fp32" }), outDir: null, progress: quiet });
    assert.equal(source.made, steps, `${steps} steps: batches drawn`);
    assert.equal(r.epochs.length, Math.ceil(steps / 3), `${steps} steps: epochs`);
    assert.equal(r.epochs.at(-1)!.step, steps, `${steps} steps: the last record's step`);
    assert.equal(r.epochs.reduce((s, e) => s + e.epochSteps, 0), steps, `${steps} steps: the epochs' steps add up`);
  }
});

test("the partial last epoch of a steps run is evaluated, checkpointed and recorded; best on validation still selects", () => {
  const d = tempDir();
  try {
    manualSeed(13);
    const cfg = trainConfig({ steps: 7, batchSize: 16, lr: 3e-3, precision: "fp32" });
    const r = train({ model: tiny(), trainable: "all", train: synthetic(48, 13), val: synthetic(32, 14), config: cfg, outDir: d.dir, progress: quiet, inputs: { model: "tiny" } });
    const budget = { unit: "steps", steps: 7, epochs: 3, stepsPerEpoch: 3, warmupSteps: 3 };
    assert.deepEqual(r.budget, budget);
    assert.deepEqual(r.epochs.map((e) => [e.epoch, e.step, e.epochSteps]), [[1, 3, 3], [2, 6, 3], [3, 7, 1]]);
    close(r.epochs[2].lr, expectedLr(6, cfg, 3, 7), "the last step's lr");
    assert.ok(r.epochs.every((e) => e.valAcc !== null), "every epoch, the partial one too, is evaluated");

    // The optimizer's own counter, from the last checkpoint (after the partial epoch).
    const latest = readJson(join(d.dir, "latest.json"));
    assert.equal(latest.epoch, 3);
    const state = readJson(join(d.dir, latest.checkpoint, "state.json"));
    assert.equal(state.optimizer.stepCount, 7);
    assert.equal(state.globalStep, 7);

    // Self-describing outputs: run.json and each metrics line say the run was 7 steps.
    const run = readJson(join(d.dir, "run.json"));
    assert.equal(run.config.steps, 7);
    assert.deepEqual(run.budget, budget);
    assert.deepEqual(metricLines(d.dir).map((l) => [l.budget, l.totalSteps, l.step, l.epochSteps]), [["steps", 7, 3, 3], ["steps", 7, 6, 3], ["steps", 7, 7, 1]]);

    // The final weights are the best epoch's.
    const bestAcc = Math.max(...r.epochs.map((e) => e.valAcc!));
    assert.equal(r.best?.acc, bestAcc);
    assert.equal(r.best?.epoch, r.epochs.find((e) => e.valAcc === bestAcc)!.epoch);
    const final = readSafetensors(join(d.dir, "model.safetensors")).tensors;
    const best = readSafetensors(join(d.dir, "best.safetensors")).tensors;
    for (const [k, v] of final) assert.ok(Buffer.from(v.bytes()).equals(Buffer.from(best.get(k)!.bytes())), `${k}: final weights are the best epoch's`);
  } finally {
    d.cleanup();
  }
});

test("kill and resume of a steps run ends with exactly the weights of an uninterrupted run", () => {
  // 8 steps at 3 per epoch: epochs of 3, 3 and 2 steps; halts land after epochs 1 and 2.
  const cfg = trainConfig({ steps: 8, warmupSteps: 2, batchSize: 16, precision: "bf16", seed: 5, ema: 0.9, lr: 3e-3 });
  const run = dropPathRun(cfg);
  const a = tempDir();
  const b = tempDir();
  try {
    run(a.dir);
    assert.equal(run(b.dir, 1).halted, true);
    assert.equal(run(b.dir, 1).halted, true); // resumes at step 3, stops after step 6
    const resumed = run(b.dir); // resumes at step 6, takes the last 2
    // Every epoch of the run, the earlier processes' ones too (from metrics.jsonl).
    assert.deepEqual(resumed.epochs.map((e) => [e.epoch, e.step, e.epochSteps]), [[1, 3, 3], [2, 6, 3], [3, 8, 2]]);
    const wa = readSafetensors(join(a.dir, "model.safetensors")).tensors;
    const wb = readSafetensors(join(b.dir, "model.safetensors")).tensors;
    for (const [k, v] of wa) assert.ok(Buffer.from(v.bytes()).equals(Buffer.from(wb.get(k)!.bytes())), `${k} differs after resume`);
    assert.deepEqual(metricLines(b.dir).map((l) => l.step), [3, 6, 8]);
    assert.deepEqual(metricLines(b.dir).map((l) => l.trainLoss), metricLines(a.dir).map((l) => l.trainLoss));
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("resume refuses a switch between epochs and steps, and a changed step count", () => {
  // 3 epochs of 3 steps and 9 steps are the same length: still a different configuration.
  const attempts: [Partial<TrainConfig>, Partial<TrainConfig>][] = [
    [{ epochs: 3 }, { steps: 9 }],
    [{ steps: 9 }, { epochs: 3 }],
    [{ steps: 9 }, { steps: 8 }],
  ];
  for (const [first, then] of attempts) {
    const d = tempDir();
    try {
      const go = (over: Partial<TrainConfig>) => train({ model: tiny(), trainable: "all", train: synthetic(48, 3), val: null, config: trainConfig({ batchSize: 16, ...over }), outDir: d.dir, resume: true, progress: quiet, haltAfterEpochs: 1 });
      go(first);
      assert.throws(() => go(then), (e: unknown) => e instanceof PftError && e.code === "config" && /different configuration/.test(e.message), `${JSON.stringify(first)} then ${JSON.stringify(then)}`);
      assert.equal(go(first).halted, true, "the original configuration still resumes");
    } finally {
      d.cleanup();
    }
  }
});

test("steps options: clear errors, and null leaves a config exactly as without it", () => {
  assert.throws(() => trainConfig({ steps: 0 }), /invalid value for training option 'steps': 0/);
  assert.throws(() => trainConfig({ steps: 2.5 }), /invalid value for training option 'steps'/);
  assert.throws(() => trainConfig({ warmupSteps: -1 }), /invalid value for training option 'warmupSteps'/);
  assert.throws(() => trainConfig({ epochs: 3, steps: 9 }), (e: unknown) => e instanceof PftError && e.code === "config" && /give epochs or steps, not both/.test(e.message));
  assert.throws(() => trainConfig({ warmupEpochs: 1, warmupSteps: 9 }), /give warmupEpochs or warmupSteps, not both/);
  // Older run directories' fingerprints hold the config without these keys: null must not add them.
  assert.deepEqual(trainConfig({ steps: null, warmupSteps: null }), trainConfig());
  assert.ok(!("steps" in trainConfig({ steps: null })));
  assert.equal(trainConfig({ epochs: 3, steps: null }).epochs, 3);
});
