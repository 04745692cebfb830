// The training recipe (the paper's: AdamW, linear warm-up then cosine decay, mixed precision),
// scaled to small runs. One small typed config; unknown keys and wrong types are errors.
// A run is `epochs` long, or exactly `steps` optimizer steps (HF Trainer's max_steps).
import { PftError } from "../errors.js";
import type { WarmupCosineSchedule } from "../optim/index.js";
import { parseRandAugment } from "../data/augment.js";

export interface TrainConfig {
  /** Passes over the training data; ignored when `steps` is set. */
  epochs: number;
  /** Train exactly this many optimizer steps instead of `epochs` (the last epoch may be partial); null/absent: epochs. */
  steps?: number | null;
  batchSize: number;
  /** Peak learning rate, reached after warm-up. */
  lr: number;
  /** Floor of the cosine decay. */
  minLr: number;
  /** Warm-up length in epochs, converted to steps at the run's steps per epoch (as timm does). */
  warmupEpochs: number;
  /** Warm-up length in optimizer steps, instead of warmupEpochs; null/absent: warmupEpochs. */
  warmupSteps?: number | null;
  /** lr at step 0 of the warm-up. */
  warmupLr: number;
  weightDecay: number;
  /** Clip gradients to this global L2 norm; 0 disables. */
  clipGrad: number;
  labelSmoothing: number;
  /** Mixup alpha (0 disables). */
  mixup: number;
  /** CutMix alpha (0 disables). */
  cutmix: number;
  /** "bf16": autocast forward with float32 master weights (the paper trains mixed precision). */
  precision: "bf16" | "fp32";
  seed: number;
  /** Decay of an exponential moving average of the weights, evaluated instead of the raw weights; 0 disables. */
  ema: number;
  /** RandAugment as timm's config string (e.g. "rand-m9-mstd0.5-inc1", src/data/augment.ts); null/absent: none. */
  autoAugment?: string | null;
  /** Random-erasing probability (timm's re_prob, mode 'pixel'); 0/absent: none. */
  reprob?: number;
  /** Layer-wise lr decay (timm's --layer-decay): layer i's lr is scaled by layerDecay^(L-1-i); null/absent: off. */
  layerDecay?: number | null;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  epochs: 10,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-6,
  warmupEpochs: 1,
  warmupLr: 1e-6,
  weightDecay: 0.05,
  clipGrad: 0,
  labelSmoothing: 0.1,
  mixup: 0,
  cutmix: 0,
  precision: "bf16",
  seed: 0,
  ema: 0,
};

const RANGES: Record<keyof TrainConfig, (v: unknown) => boolean> = {
  epochs: (v) => Number.isInteger(v) && (v as number) >= 1,
  steps: (v) => Number.isInteger(v) && (v as number) >= 1,
  batchSize: (v) => Number.isInteger(v) && (v as number) >= 1,
  lr: (v) => typeof v === "number" && v > 0,
  minLr: (v) => typeof v === "number" && v >= 0,
  warmupEpochs: (v) => typeof v === "number" && v >= 0,
  warmupSteps: (v) => Number.isInteger(v) && (v as number) >= 0,
  warmupLr: (v) => typeof v === "number" && v >= 0,
  weightDecay: (v) => typeof v === "number" && v >= 0,
  clipGrad: (v) => typeof v === "number" && v >= 0,
  labelSmoothing: (v) => typeof v === "number" && v >= 0 && v < 1,
  mixup: (v) => typeof v === "number" && v >= 0,
  cutmix: (v) => typeof v === "number" && v >= 0,
  precision: (v) => v === "bf16" || v === "fp32",
  seed: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  ema: (v) => typeof v === "number" && v >= 0 && v < 1,
  autoAugment: (v) => typeof v === "string" && (parseRandAugment(v), true), // a bad string gets the parser's own message
  reprob: (v) => typeof v === "number" && v >= 0 && v <= 1,
  layerDecay: (v) => typeof v === "number" && v > 0 && v <= 1,
};


/** Defaults overridden by `overrides`; throws PftError("config") on unknown keys or bad values. */
export function trainConfig(overrides: Record<string, unknown> = {}): TrainConfig {
  const cfg: Record<string, unknown> = { ...TRAIN_DEFAULTS };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    // null unsets the optional lengths; leaving the key out keeps older runs' fingerprints (resume) unchanged.
    if (v === null && (k === "steps" || k === "warmupSteps" || k === "autoAugment" || k === "layerDecay")) continue;
    if (!(k in RANGES)) throw new PftError("config", `unknown training option '${k}'`);
    if (!RANGES[k as keyof TrainConfig](v)) throw new PftError("config", `invalid value for training option '${k}': ${JSON.stringify(v)}`);
    cfg[k] = v;
  }
  if ((cfg.minLr as number) > (cfg.lr as number)) throw new PftError("config", `minLr (${cfg.minLr}) is above lr (${cfg.lr})`);
  const given = (k: keyof TrainConfig) => overrides[k] !== undefined && overrides[k] !== null;
  if (given("steps") && given("epochs")) throw new PftError("config", "give epochs or steps, not both");
  if (given("warmupSteps") && given("warmupEpochs")) throw new PftError("config", "give warmupEpochs or warmupSteps, not both");
  return cfg as unknown as TrainConfig;
}

/** How long a run trains, once its steps per epoch are known (recorded in run.json, result.json and metrics.jsonl). */
export interface TrainBudget {
  /** What the run was configured in. */
  unit: "epochs" | "steps";
  /** Optimizer steps in all: the schedule's length. */
  steps: number;
  /** Epochs the steps span, ceil(steps / stepsPerEpoch): with a steps budget the last one may be partial. */
  epochs: number;
  stepsPerEpoch: number;
  /** Linear warm-up length: warmupSteps, or warmupEpochs * stepsPerEpoch rounded. */
  warmupSteps: number;
}

export function trainBudget(cfg: TrainConfig, stepsPerEpoch: number): TrainBudget {
  const unit = cfg.steps != null ? "steps" : "epochs";
  const steps = cfg.steps ?? cfg.epochs * stepsPerEpoch;
  const warmupSteps = cfg.warmupSteps ?? Math.round(cfg.warmupEpochs * stepsPerEpoch);
  // A run shorter than its warm-up never reaches the peak lr: the trap of the default one-epoch
  // warm-up under a small step budget, so refused here (epoch-only configs keep their old behaviour).
  if ((cfg.steps != null || cfg.warmupSteps != null) && warmupSteps > steps) {
    throw new PftError("config", `the warm-up (${warmupSteps} steps) is longer than the run (${steps} steps): shorten it (warmupEpochs or warmupSteps)`);
  }
  return { unit, steps, epochs: Math.ceil(steps / stepsPerEpoch), stepsPerEpoch, warmupSteps };
}

/** The run's lr schedule: linear warm-up then cosine decay over the budget's steps (timm's, per step). */
export function lrSchedule(cfg: TrainConfig, budget: TrainBudget): Omit<WarmupCosineSchedule, "kind"> {
  return { baseLr: cfg.lr, warmupInit: cfg.warmupLr, warmupSteps: budget.warmupSteps, totalSteps: budget.steps, minLr: cfg.minLr };
}
