// From a dataset and a model to loaders: the input pipeline the trainer and `pft eval` use.
// Images arrive in [0, 1]; they get the model's channel count and size, light augmentation for
// training (a padded random crop, as for CIFAR, scaled to small images), normalisation to
// [-1, 1] (timm's inception mean/std, what the augreg ViTs use), and mixup/cutmix when asked.
import { DataLoader, INCEPTION_MEAN, INCEPTION_STD, mixup, normalize, padCrop, randAugment, randomErasing, resize, toChannels, type BatchTransform, type DatasetSplits, type ImageDataset } from "../data/index.js";
import type { VisionModel } from "../models/index.js";
import type { TrainConfig } from "./config.js";

export interface Loaders {
  train: DataLoader;
  val: DataLoader | null;
  test: DataLoader;
}

function inputTransforms(ds: ImageDataset, model: VisionModel): BatchTransform[] {
  const t: BatchTransform[] = [];
  if (ds.channels !== model.inChans) t.push(toChannels(model.inChans as 1 | 3));
  return t;
}

/** The per-channel mean/std images are normalised with (recorded in a run's config.json, as timm's pretrained_cfg). */
export function inputNormalization(model: VisionModel): { mean: readonly number[]; std: readonly number[] } {
  return model.inChans === 1 ? { mean: [0.5], std: [0.5] } : { mean: INCEPTION_MEAN, std: INCEPTION_STD };
}

function finishTransforms(ds: ImageDataset, model: VisionModel): BatchTransform[] {
  const t: BatchTransform[] = [];
  if (ds.height !== model.imageSize || ds.width !== model.imageSize) t.push(resize(model.imageSize));
  const { mean, std } = inputNormalization(model);
  t.push(normalize(mean, std));
  return t;
}

/** The training pipeline's transforms (also used by tests to check shapes). */
export function trainTransforms(ds: ImageDataset, model: VisionModel, cfg: TrainConfig, augment = true): BatchTransform[] {
  const pad = Math.max(1, Math.round(ds.height / 8));
  // RandAugment works on [0, 1] images at the model's size, random erasing on normalised ones (as timm).
  const finish = finishTransforms(ds, model);
  const norm = finish.pop()!;
  const aa = augment && cfg.autoAugment ? [randAugment(cfg.autoAugment)] : [];
  const erase = augment && cfg.reprob ? [randomErasing({ p: cfg.reprob })] : [];
  const t = [...inputTransforms(ds, model), ...(augment ? [padCrop(pad)] : []), ...finish, ...aa, norm, ...erase];
  if (cfg.mixup > 0 || cfg.cutmix > 0) {
    t.push(mixup({ mixupAlpha: cfg.mixup, cutmixAlpha: cfg.cutmix, labelSmoothing: cfg.labelSmoothing }));
  }
  return t;
}

export function evalTransforms(ds: ImageDataset, model: VisionModel): BatchTransform[] {
  return [...inputTransforms(ds, model), ...finishTransforms(ds, model)];
}

export function buildLoaders(splits: DatasetSplits, model: VisionModel, cfg: TrainConfig, opts: { augment?: boolean; evalBatchSize?: number } = {}): Loaders {
  const evalBatch = opts.evalBatchSize ?? Math.max(cfg.batchSize, 128);
  const train = new DataLoader(splits.train, { batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, dropLast: splits.train.length >= cfg.batchSize, transforms: trainTransforms(splits.train, model, cfg, opts.augment ?? true) });
  const val = splits.val ? new DataLoader(splits.val, { batchSize: evalBatch, transforms: evalTransforms(splits.val, model) }) : null;
  const test = new DataLoader(splits.test, { batchSize: evalBatch, transforms: evalTransforms(splits.test, model) });
  return { train, val, test };
}
