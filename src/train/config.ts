// The training recipe (the paper's: AdamW, linear warm-up then cosine decay, mixed precision),
// scaled to small runs. One small typed config; unknown keys and wrong types are errors.
import { PftError } from "../errors.js";

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate, reached after warm-up. */
  lr: number;
  /** Floor of the cosine decay. */
  minLr: number;
  warmupEpochs: number;
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
  batchSize: (v) => Number.isInteger(v) && (v as number) >= 1,
  lr: (v) => typeof v === "number" && v > 0,
  minLr: (v) => typeof v === "number" && v >= 0,
  warmupEpochs: (v) => typeof v === "number" && v >= 0,
  warmupLr: (v) => typeof v === "number" && v >= 0,
  weightDecay: (v) => typeof v === "number" && v >= 0,
  clipGrad: (v) => typeof v === "number" && v >= 0,
  labelSmoothing: (v) => typeof v === "number" && v >= 0 && v < 1,
  mixup: (v) => typeof v === "number" && v >= 0,
  cutmix: (v) => typeof v === "number" && v >= 0,
  precision: (v) => v === "bf16" || v === "fp32",
  seed: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  ema: (v) => typeof v === "number" && v >= 0 && v < 1,
};

/** Defaults overridden by `overrides`; throws PftError("config") on unknown keys or bad values. */
export function trainConfig(overrides: Record<string, unknown> = {}): TrainConfig {
  const cfg: Record<string, unknown> = { ...TRAIN_DEFAULTS };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(k in RANGES)) throw new PftError("config", `unknown training option '${k}'`);
    if (!RANGES[k as keyof TrainConfig](v)) throw new PftError("config", `invalid value for training option '${k}': ${JSON.stringify(v)}`);
    cfg[k] = v;
  }
  if ((cfg.minLr as number) > (cfg.lr as number)) throw new PftError("config", `minLr (${cfg.minLr}) is above lr (${cfg.lr})`);
  return cfg as unknown as TrainConfig;
}
