// One in-memory dataset type for every source, and the seeded ways to cut it up.
//
// Images are uint8 in [N, C, H, W] order in one contiguous buffer: image i is the slice
// images[i*C*H*W, (i+1)*C*H*W). Subsets copy into a new buffer, so every dataset stays contiguous.
import { PftError } from "../errors.js";
import { Rng, Stream, deriveSeed } from "./rng.js";

export interface ImageDataset {
  /** Source and split, for messages and run records: "mnist/train", "cifar10/test[10/class]". */
  readonly name: string;
  /** uint8 pixels, [length, channels, height, width], row-major. */
  readonly images: Uint8Array;
  /** Class index of each image, in [0, classes.length). */
  readonly labels: Int32Array;
  /** Class names; label k is classes[k]. */
  readonly classes: readonly string[];
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly length: number;
}

/** A dataset's splits. `val` is carved from training data (never test), or null when not asked for. */
export interface DatasetSplits {
  train: ImageDataset;
  val: ImageDataset | null;
  test: ImageDataset;
}

/** Checks that the fields agree (buffer size, label range) and returns them as an ImageDataset. */
export function imageDataset(d: Omit<ImageDataset, "length"> & { length?: number }): ImageDataset {
  const n = d.labels.length;
  const per = d.channels * d.height * d.width;
  for (const [k, v] of [["channels", d.channels], ["height", d.height], ["width", d.width]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new PftError("data", `${d.name}: ${k} must be a positive integer, got ${v}`);
  }
  if (d.length !== undefined && d.length !== n) throw new PftError("data", `${d.name}: length ${d.length} but ${n} labels`);
  if (d.images.length !== n * per) {
    throw new PftError("data", `${d.name}: ${d.images.length} pixel bytes for ${n} images of ${d.channels}x${d.height}x${d.width} (expected ${n * per})`);
  }
  if (d.classes.length === 0) throw new PftError("data", `${d.name}: no classes`);
  for (let i = 0; i < n; i++) {
    const y = d.labels[i];
    if (y < 0 || y >= d.classes.length) throw new PftError("data", `${d.name}: label ${y} of image ${i} is outside [0, ${d.classes.length})`);
  }
  return { name: d.name, images: d.images, labels: d.labels, classes: d.classes, channels: d.channels, height: d.height, width: d.width, length: n };
}

/** Bytes per image (C*H*W). */
export const imageSize = (ds: ImageDataset): number => ds.channels * ds.height * ds.width;

/** A view of image i's C*H*W bytes (no copy). */
export function imageAt(ds: ImageDataset, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) throw new PftError("argument", `${ds.name}: image index ${i} out of range [0, ${ds.length})`);
  const per = imageSize(ds);
  return ds.images.subarray(i * per, (i + 1) * per);
}

/** How many images each class has. */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (const y of ds.labels) counts[y]++;
  return counts;
}

/** The images at `indices`, in that order, copied into a new contiguous dataset. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = `${ds.name}[${indices.length}]`): ImageDataset {
  const per = imageSize(ds);
  const images = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.length) throw new PftError("argument", `subset: index ${i} out of range [0, ${ds.length})`);
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i];
  }
  return { ...ds, name, images, labels, length: indices.length };
}

/** Resolves a hold-out size: a fraction in (0, 1) of n (rounded), or a count. */
export function holdOutCount(size: number, n: number, what = "validation"): number {
  if (!(size >= 0) || !Number.isFinite(size)) throw new PftError("config", `${what} size must be a fraction in (0, 1) or a count, got ${size}`);
  const k = size < 1 ? Math.round(size * n) : size;
  if (!Number.isInteger(k)) throw new PftError("config", `${what} size ${size} is neither a fraction in (0, 1) nor a whole count`);
  if (k >= n) throw new PftError("config", `${what} size ${k} leaves no training images out of ${n}`);
  return k;
}

/**
 * Holds out `size` images (a fraction in (0, 1), or a count) of `ds` as validation, chosen by a
 * seeded random permutation (VPT's random train/val split). Both parts keep the original order.
 */
export function randomSplit(ds: ImageDataset, size: number, seed: number): { train: ImageDataset; val: ImageDataset } {
  const k = holdOutCount(size, ds.length);
  const perm = new Rng(deriveSeed(seed, Stream.valSplit)).permutation(ds.length);
  const val = perm.slice(0, k).sort();
  const train = perm.slice(k).sort();
  return { train: subset(ds, train, ds.name), val: subset(ds, val, `${ds.name.replace(/\/train$/, "")}/val`) };
}

/**
 * Exactly `n` images of every class, chosen by a seeded shuffle within each class (few-shot
 * targets); the result keeps the original order. Throws PftError("data") if a class has fewer.
 * `stream` keeps differently-purposed draws with the same seed independent.
 */
export function perClass(ds: ImageDataset, n: number, seed: number, stream: number = Stream.perClass): ImageDataset {
  if (!Number.isInteger(n) || n <= 0) throw new PftError("config", `images per class must be a positive integer, got ${n}`);
  const byClass: number[][] = ds.classes.map(() => []);
  for (let i = 0; i < ds.length; i++) byClass[ds.labels[i]].push(i);
  const chosen: number[] = [];
  byClass.forEach((idx, c) => {
    if (idx.length < n) throw new PftError("data", `${ds.name}: class '${ds.classes[c]}' has ${idx.length} images, fewer than the ${n} per class asked for`);
    const pick = new Rng(deriveSeed(seed, stream, c)).shuffle(Int32Array.from(idx)).subarray(0, n);
    for (const i of pick) chosen.push(i);
  });
  chosen.sort((a, b) => a - b);
  return subset(ds, chosen, `${ds.name}[${n}/class]`);
}

/** Deterministic tail split with no randomness: the last `fraction` of each class (in file order). */
export function tailPerClass(ds: ImageDataset, fraction: number): { head: number[]; tail: number[] } {
  const byClass: number[][] = ds.classes.map(() => []);
  for (let i = 0; i < ds.length; i++) byClass[ds.labels[i]].push(i);
  const head: number[] = [];
  const tail: number[] = [];
  for (const idx of byClass) {
    const k = idx.length > 1 ? Math.max(1, Math.round(idx.length * fraction)) : 0;
    head.push(...idx.slice(0, idx.length - k));
    tail.push(...idx.slice(idx.length - k));
  }
  return { head: head.sort((a, b) => a - b), tail: tail.sort((a, b) => a - b) };
}

export interface SplitOptions {
  /** Seed for the validation split and the per-class draws (default 0). */
  seed?: number;
  /** Validation carved from training data: a fraction in (0, 1) or a count. 0 or absent: no val. */
  val?: number;
  /** Few-shot: keep exactly this many training images per class (drawn after val is carved). */
  trainPerClass?: number;
  /** Evaluate on a seeded subset of this many test images per class (quick runs). */
  testPerClass?: number;
}

/** Applies SplitOptions to a loaded train/test pair: carve val from train, then subset. */
export function makeSplits(train: ImageDataset, test: ImageDataset, opts: SplitOptions = {}, presetVal: ImageDataset | null = null): DatasetSplits {
  const seed = opts.seed ?? 0;
  let val: ImageDataset | null = presetVal;
  if (opts.val !== undefined && opts.val > 0) {
    if (presetVal) throw new PftError("config", `${train.name}: the dataset has its own validation split; do not ask for val`);
    ({ train, val } = randomSplit(train, opts.val, seed));
  }
  if (opts.trainPerClass !== undefined) train = perClass(train, opts.trainPerClass, seed, Stream.perClass);
  if (opts.testPerClass !== undefined) test = perClass(test, opts.testPerClass, seed, Stream.testPerClass);
  return { train, val, test };
}
