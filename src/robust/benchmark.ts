// The corruption benchmark end to end: from a test split to every classifier's error on every
// (corruption, severity), the reference's errors on the same images, and each model's CE and mCE.
// Each corrupted set is generated once, evaluated by all the models and the reference, and
// dropped, so memory stays one set (the study evaluates six models on the same images).
import { PftError } from "../errors.js";
import { DataLoader, subset, type ImageDataset } from "../data/index.js";
import type { VisionModel } from "../models/index.js";
import { evaluate, evalTransforms } from "../train/index.js";
import { MIN_CORRUPTION_SIDE, SEVERITIES, corruptDataset, corruptionInfo, corruptionsFor, resizeDataset, type CorruptionName } from "./corruptions.js";
import { computeMce, type CorruptionErrors, type MceResult } from "./mce.js";
import { NearestClassMean, REFERENCE_NAME } from "./reference.js";

/** Anything with a top-1 error on a dataset. */
export interface Classifier {
  error(ds: ImageDataset): number;
}

/** A model as a Classifier: pft's evaluation pipeline (evalTransforms: channels, resize, normalise), eval mode, no autograd. */
export function modelClassifier(model: VisionModel, opts: { bf16?: boolean; batchSize?: number } = {}): Classifier {
  return {
    error(ds) {
      const loader = new DataLoader(ds, { batchSize: opts.batchSize ?? 256, transforms: evalTransforms(ds, model) });
      return 1 - evaluate(model, loader, opts.bf16 ?? false).acc;
    },
  };
}

export interface RobustnessOptions {
  /** Seed of the corruptions (default 0). */
  seed?: number;
  /** Only the first N test images of each class, in file order (default: the whole split). */
  perClass?: number;
  /** Which corruptions (default: the 15 standard ones, plus the extras with `extras`; saturate only on colour). */
  corruptions?: readonly CorruptionName[];
  extras?: boolean;
  /**
   * Corrupt at size x size (test and the reference's training split resized first); default the
   * data's own size. Required for images under MIN_CORRUPTION_SIDE (8x8 digits): pass the model's
   * input size, as `pft eval --robustness` does.
   */
  size?: number;
  log?: (line: string) => void;
}

export interface RobustnessReport {
  /** The test split corrupted. */
  dataset: string;
  /** Images per corrupted set. */
  n: number;
  perClass: number | null;
  seed: number;
  /** [channels, height, width] the corruptions ran at. */
  resolution: [number, number, number];
  corruptions: CorruptionName[];
  reference: { name: string; errors: CorruptionErrors };
  /** Per model: clean and corrupted errors (fractions), CE per corruption, mCE. */
  models: Record<string, CorruptionErrors & MceResult>;
}

/** The first `n` images of each class in file order, and their indices in `ds`. */
export function firstPerClass(ds: ImageDataset, n: number): { ds: ImageDataset; indices: Int32Array } {
  if (!Number.isInteger(n) || n <= 0) throw new PftError("config", `images per class must be a positive integer, got ${n}`);
  const taken = new Array<number>(ds.classes.length).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < ds.length; i++) if (taken[ds.labels[i]]++ < n) idx.push(i);
  const indices = Int32Array.from(idx);
  return { ds: subset(ds, indices, `${ds.name}[first ${n}/class]`), indices };
}

/**
 * Every classifier's errors on the clean and corrupted test images, the nearest-class-mean
 * reference's (fitted on `train`), and each classifier's CE and mCE against it.
 */
export function evaluateRobustness(classifiers: Record<string, Classifier>, splits: { train: ImageDataset; test: ImageDataset }, opts: RobustnessOptions = {}): RobustnessReport {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? 0;
  let test = splits.test;
  let train = splits.train;
  if (opts.size !== undefined) {
    test = resizeDataset(test, opts.size);
    train = resizeDataset(train, opts.size);
  }
  if (Math.min(test.height, test.width) < MIN_CORRUPTION_SIDE) {
    throw new PftError("config", `${test.name} is ${test.height}x${test.width}: corrupt it at the model's input size (option size, e.g. 28), not below ${MIN_CORRUPTION_SIDE} pixels a side`);
  }
  if (train.classes.length !== test.classes.length) throw new PftError("config", `${train.name} has ${train.classes.length} classes, ${test.name} ${test.classes.length}`);
  let indices: Int32Array | undefined;
  if (opts.perClass) ({ ds: test, indices } = firstPerClass(test, opts.perClass));
  const names = opts.corruptions ? [...opts.corruptions] : corruptionsFor(test.channels, { extras: opts.extras });
  for (const n of names) {
    if (corruptionInfo(n).colourOnly && test.channels !== 3) throw new PftError("config", `${n} needs colour images; ${test.name} has ${test.channels} channel(s)`);
  }

  const reference = NearestClassMean.fit(train);
  const all: Record<string, Classifier> = { ...classifiers, [REFERENCE_NAME]: { error: (ds) => reference.error(ds) } };
  const results: Record<string, CorruptionErrors> = {};
  for (const [k, c] of Object.entries(all)) results[k] = { clean: c.error(test), errors: {} };
  log(`clean: ${Object.entries(results).map(([k, r]) => `${k} ${(r.clean * 100).toFixed(2)}%`).join(", ")}`);
  for (const name of names) {
    const t0 = Date.now();
    for (const sev of SEVERITIES) {
      const corrupted = corruptDataset(test, name, sev, { seed, indices });
      for (const [k, c] of Object.entries(all)) (results[k].errors[name] ??= []).push(c.error(corrupted));
    }
    log(`${name}: ${Object.entries(results).map(([k, r]) => `${k} ${r.errors[name]!.map((e) => (e * 100).toFixed(1)).join("/")}`).join(", ")} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  const ref = results[REFERENCE_NAME];
  const models: RobustnessReport["models"] = {};
  for (const k of Object.keys(classifiers)) models[k] = { ...results[k], ...computeMce(results[k], ref) };
  return {
    dataset: splits.test.name,
    n: test.length,
    perClass: opts.perClass ?? null,
    seed,
    resolution: [test.channels, test.height, test.width],
    corruptions: names,
    reference: { name: REFERENCE_NAME, errors: ref },
    models,
  };
}

/** One line per model for a Table 4 analogue: clean top-1 accuracy and mCE, in percent. */
export function robustnessRows(report: RobustnessReport): { model: string; cleanAcc: number; mce: number; relativeMce: number | null; meanCorruptedAcc: number }[] {
  return Object.entries(report.models).map(([model, r]) => ({
    model,
    cleanAcc: (1 - r.clean) * 100,
    mce: r.mce * 100,
    relativeMce: r.relativeMce === null ? null : r.relativeMce * 100,
    meanCorruptedAcc: (1 - r.meanError) * 100,
  }));
}
