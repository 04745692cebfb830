// The training loop, readable in one sitting (nanoGPT's train.py shape): set up the trainable
// set and the optimizer, resume if asked, then per step: lr from the schedule, forward (frozen
// prefix without autograd, bf16 autocast), loss, NaN guard, backward, clip, step, EMA; per epoch:
// evaluate, keep the best, checkpoint atomically. A run lasts `epochs`, or exactly `steps`
// optimizer steps: then the last epoch stops part-way and is evaluated and checkpointed as usual.
import { join } from "node:path";
import { existsSync, mkdirSync } from "node:fs";
import { F, autocast, describeEngine, noGrad, scope, manualSeed, getRngState, setRngState, engineInfo, type Tensor } from "../engine/index.js";
import { RUN_FILES } from "../files.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import { readSafetensors, writeSafetensors, type NamedParameter } from "../nn/index.js";
import { AdamW, clipGradNorm, paramGroupsLayerDecay, paramGroupsWeightDecay, warmupCosine } from "../optim/index.js";
import { appendMetrics, loadCheckpoint, saveCheckpoint, truncateMetrics, writeJsonAtomic } from "./checkpoint.js";
import { lrSchedule, trainBudget, type TrainBudget, type TrainConfig } from "./config.js";
import { evaluate, type EvalResult } from "./evaluate.js";
import { forwardPartial } from "./forward.js";
import { assertGoodEpoch } from "./guard.js";
import { acquireRunLock } from "./lock.js";
import { createProgress, type Progress } from "./progress.js";
import { writeTracking } from "./tracking.js";
import { freezeFor } from "./selection.js";
import { MANIFEST_FORMAT, readEpochs, readManifest, weightsMetadata, type RunInputs, type RunManifest } from "./rundir.js";

export interface Batch {
  /** float32 images [B, C, H, W] */
  x: Tensor;
  /** int64 class indices [B], or float class probabilities [B, K] (mixup/cutmix, smoothing folded in) */
  y: Tensor;
}

/** Batches of an epoch, a pure function of (seed, epoch): resuming at a step needs no other state. */
export interface BatchSource {
  readonly stepsPerEpoch: number;
  batches(epoch: number, fromStep?: number): Iterable<Batch>;
}

export interface TrainJob {
  model: VisionModel;
  /** Names of the parameters to train ("all" for full fine-tuning); the rest is frozen. */
  trainable: "all" | readonly string[];
  train: BatchSource;
  /** Held-out split of the training data for best-epoch selection (never the test set). */
  val: BatchSource | null;
  config: TrainConfig;
  /** Run directory for checkpoints and metrics; null keeps everything in memory. */
  outDir: string | null;
  /** Continue from outDir's newest checkpoint if there is one. */
  resume?: boolean;
  /** What the run is (model, data, what trains): recorded in run.json and the weights' metadata, and part of the resume fingerprint. */
  inputs?: RunInputs;
  progress?: Progress;
  /** Stop (as if killed) after this many epochs of this invocation; for tests of resume. */
  haltAfterEpochs?: number;
}

export interface EpochRecord {
  epoch: number;
  /** Optimizer steps taken so far (after this epoch). */
  step: number;
  /** Optimizer steps in this epoch: fewer than steps per epoch in the last epoch of a steps budget. */
  epochSteps: number;
  /** The run's budget: its unit and its length in steps. */
  budget: TrainBudget["unit"];
  totalSteps: number;
  /** lr of this epoch's last step. */
  lr: number;
  trainLoss: number;
  valAcc: number | null;
  valLoss: number | null;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainResult {
  epochs: EpochRecord[];
  best: { epoch: number; acc: number; loss: number } | null;
  trainable: number;
  total: number;
  budget: TrainBudget;
  /** True when haltAfterEpochs stopped the run early. */
  halted: boolean;
}

export function train(job: TrainJob): TrainResult {
  const { model, config: cfg } = job;
  const progress = job.progress ?? createProgress();
  manualSeed(cfg.seed);

  // ---- what trains
  if (job.trainable !== "all") {
    const known = new Set(model.namedParameters().map((n) => n.name));
    for (const n of job.trainable) if (!known.has(n)) throw new PftError("config", `plan names parameter '${n}', which the model does not have`);
  }
  freezeFor(model, job.trainable);
  const trainable = model.trainableParameters();
  if (trainable.length === 0) throw new PftError("config", "no parameter is trainable: nothing to fine-tune");
  const groups = cfg.layerDecay != null ? paramGroupsLayerDecay(model.arch, model.namedParameters(), cfg.weightDecay, model.noWeightDecay(), cfg.layerDecay) : paramGroupsWeightDecay(trainable, cfg.weightDecay, model.noWeightDecay());
  const opt = new AdamW(groups, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const ema = cfg.ema > 0 ? new Ema(trainable, cfg.ema) : null;
  const budget = trainBudget(cfg, job.train.stepsPerEpoch);
  const schedule = lrSchedule(cfg, budget);
  const fingerprint = JSON.stringify({ cfg, describe: job.inputs ?? {}, trainable: trainable.map((t) => t.name) });

  // ---- where we start
  let startEpoch = 0;
  let globalStep = 0;
  let best: TrainResult["best"] = null;
  /** Epochs trained by earlier processes of a resumed run (from metrics.jsonl). */
  let previous: EpochRecord[] = [];
  if (job.outDir) mkdirSync(job.outDir, { recursive: true });
  const lock = job.outDir ? acquireRunLock(job.outDir) : null; // one process per directory; dead writers' temp files go
  try {
    return trainLocked();
  } finally {
    lock?.release();
  }

  function trainLocked(): TrainResult {
  const resumed = job.outDir && job.resume ? loadCheckpoint(job.outDir) : null;
  if (resumed) {
    if (resumed.state.fingerprint !== fingerprint) {
      throw new PftError("config", `cannot resume ${job.outDir}: it was started with a different configuration, model, data or plan`, { reason: "resume-mismatch" });
    }
    assertSameThreads(job.outDir!);
    model.loadStateDict(resumed.model);
    opt.loadStateDict({ ...(resumed.state.optimizer as object), tensors: resumed.optimizer } as never);
    if (ema && resumed.ema) ema.load(resumed.ema);
    setRngState(Buffer.from(resumed.state.rng, "base64"));
    ({ epoch: startEpoch, globalStep, best } = resumed.state);
    truncateMetrics(job.outDir!, startEpoch);
    previous = readEpochs(job.outDir!);
    for (const m of [resumed.model, resumed.optimizer, resumed.ema]) m?.forEach((t) => t.dispose());
  } else if (job.outDir) {
    truncateMetrics(job.outDir, 0); // a fresh start: lines of earlier, killed attempts go
    const manifest: RunManifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      ...(job.inputs ?? { model: "" }),
      config: cfg,
      budget,
      seed: cfg.seed,
      precision: cfg.precision,
      threads: engineInfo().threads,
      engine: describeEngine(),
      trainable: trainable.map((t) => t.name),
      trainableParams: model.countParameters({ trainableOnly: true }),
      totalParams: model.countParameters(),
    };
    writeJsonAtomic(join(job.outDir, RUN_FILES.manifest), manifest);
  }

  const bf16 = cfg.precision === "bf16";
  const params = trainable.map((t) => t.param);
  const records: EpochRecord[] = [];
  let halted = false;
  for (let epoch = startEpoch; epoch < budget.epochs; epoch++) {
    if (job.haltAfterEpochs !== undefined && epoch - startEpoch >= job.haltAfterEpochs) {
      halted = true;
      break;
    }
    // ---- one epoch of training
    model.train();
    const t0 = Date.now();
    let lossSum = 0;
    let seen = 0;
    let images = 0;
    let lr = 0;
    const epochSteps = Math.min(budget.stepsPerEpoch, budget.steps - globalStep);
    progress.start(`epoch ${epoch + 1}/${budget.epochs}`, epochSteps);
    let step = 0;
    for (const batch of job.train.batches(epoch)) {
      lr = warmupCosine(globalStep, schedule);
      opt.setLr(lr);
      const loss = scope(() => {
        const logits = autocast(() => forwardPartial(model, batch.x), { enabled: bf16 }).float();
        const soft = batch.y.dtype !== "int64";
        const loss = F.crossEntropy(logits, batch.y, { labelSmoothing: soft ? 0 : cfg.labelSmoothing });
        const value = loss.item();
        if (!Number.isFinite(value)) {
          const kept = job.outDir && existsSync(join(job.outDir, RUN_FILES.latest)) ? `; the last good checkpoint is kept in ${job.outDir}` : "";
          throw new PftError("numeric", `loss is ${value} at epoch ${epoch + 1}, step ${step + 1}: stopping${kept}`);
        }
        loss.backward();
        if (cfg.clipGrad > 0) clipGradNorm(params, cfg.clipGrad);
        opt.step();
        opt.zeroGrad();
        ema?.update();
        return value;
      });
      images += batch.x.size(0);
      batch.x.dispose();
      batch.y.dispose();
      lossSum += loss;
      seen += 1;
      globalStep++;
      step++;
      progress.tick(step, `loss ${(lossSum / seen).toFixed(4)} lr ${lr.toExponential(2)}`);
      if (step === epochSteps) break; // the step budget ends here (before the next batch is made)
    }
    const seconds = (Date.now() - t0) / 1000;

    // ---- evaluate, keep the best, checkpoint
    const val: EvalResult | null = job.val ? withEma(ema, () => evaluate(model, job.val!, bf16)) : null;
    withEma(ema, () => assertGoodEpoch(model, val, epoch + 1, job.outDir && existsSync(join(job.outDir, RUN_FILES.latest)) ? `; the last good checkpoint is kept in ${job.outDir}` : ""));
    if (val && (!best || val.acc > best.acc)) {
      best = { epoch: epoch + 1, acc: val.acc, loss: val.loss };
      if (job.outDir) withEma(ema, () => writeSafetensors(join(job.outDir!, RUN_FILES.best), model.stateDict(), weightsMetadata(job.inputs, model.numClasses)));
    }
    const record: EpochRecord = {
      epoch: epoch + 1,
      step: globalStep,
      epochSteps: step,
      budget: budget.unit,
      totalSteps: budget.steps,
      lr,
      trainLoss: lossSum / Math.max(seen, 1),
      valAcc: val?.acc ?? null,
      valLoss: val?.loss ?? null,
      seconds,
      imagesPerSecond: seconds > 0 ? images / seconds : 0,
    };
    records.push(record);
    progress.end(`loss ${record.trainLoss.toFixed(4)}${val ? `, val acc ${(val.acc * 100).toFixed(2)}%` : ""}`);
    if (job.outDir) {
      appendMetrics(job.outDir, record);
      writeTracking(job.outDir); // summary.csv and the TensorBoard event file
      const optState = opt.stateDict();
      const { tensors, ...optMeta } = optState;
      const optTensors = new Map(Object.entries(tensors));
      saveCheckpoint(job.outDir, {
        state: { epoch: epoch + 1, globalStep, best, rng: Buffer.from(getRngState()).toString("base64"), optimizer: optMeta, fingerprint },
        model: model.stateDict(),
        optimizer: optTensors,
        ema: ema?.tensors() ?? null,
      });
      optTensors.forEach((t) => t.dispose());
    }
  }

  // ---- the final weights: best on validation when there is a validation split, else the last
  if (!halted && job.outDir) {
    if (best && existsSync(join(job.outDir, RUN_FILES.best))) {
      const bestWeights = readSafetensors(join(job.outDir, RUN_FILES.best)).tensors;
      model.loadStateDict(bestWeights);
      bestWeights.forEach((t) => t.dispose());
    } else if (ema) {
      ema.copyInto();
    }
    writeSafetensors(join(job.outDir, RUN_FILES.weights), model.stateDict(), weightsMetadata(job.inputs, model.numClasses));
  } else if (!halted && ema) {
    ema.copyInto();
  }
  opt.dispose();
  ema?.dispose();
  return {
    epochs: [...previous, ...records],
    best,
    trainable: model.countParameters({ trainableOnly: true }),
    total: model.countParameters(),
    budget,
    halted,
  };

  }

  function withEma<T>(e: Ema | null, fn: () => T): T {
    return e ? e.swapped(fn) : fn();
  }
}

/**
 * A resume is bit-identical only at the thread count the run started with (libtorch's reductions
 * split their work by thread), recorded in run.json: another count is refused.
 */
function assertSameThreads(dir: string): void {
  const recorded = readManifest(dir)?.threads;
  const now = engineInfo().threads;
  if (typeof recorded === "number" && recorded !== now) {
    throw new PftError("config", `cannot resume ${dir}: it trained with ${recorded} threads and this process has ${now}, so the result would differ from an uninterrupted run: set PFT_THREADS=${recorded} (or --no-resume)`);
  }
}

/** Exponential moving average of the trainable weights (frozen ones never change). */
class Ema {
  readonly #shadow: { param: NamedParameter["param"]; name: string; avg: Tensor }[];
  constructor(
    params: NamedParameter[],
    readonly decay: number,
  ) {
    this.#shadow = params.map(({ name, param }) => ({ name, param, avg: param.value.detach().clone().keep() }));
  }
  update(): void {
    noGrad(() => {
      for (const s of this.#shadow) s.avg.lerp_(s.param.value, 1 - this.decay);
    });
  }
  /** Runs fn with the averaged weights in the model, then puts the raw weights back. */
  swapped<T>(fn: () => T): T {
    const raw = noGrad(() => this.#shadow.map((s) => s.param.value.detach().clone().keep()));
    this.copyInto();
    try {
      return fn();
    } finally {
      noGrad(() => this.#shadow.forEach((s, i) => s.param.value.copy_(raw[i])));
      raw.forEach((t) => t.dispose());
    }
  }
  copyInto(): void {
    noGrad(() => {
      for (const s of this.#shadow) s.param.value.copy_(s.avg);
    });
  }
  tensors(): Map<string, Tensor> {
    return new Map(this.#shadow.map((s) => [s.name, s.avg]));
  }
  load(saved: Map<string, Tensor>): void {
    noGrad(() => {
      for (const s of this.#shadow) {
        const t = saved.get(s.name);
        if (!t) throw new PftError("checkpoint", `EMA state lacks '${s.name}'`);
        s.avg.copy_(t);
      }
    });
  }
  dispose(): void {
    for (const s of this.#shadow) s.avg.dispose();
  }
}
