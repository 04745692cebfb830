// Batches from an ImageDataset, resumable without saved state.
//
// The order of epoch e is a pure function of (seed, e) and a batch's augmentation a pure function
// of (seed, e, step), so `loader.batches(epoch, step)` after a restart yields exactly the batches
// an uninterrupted run would have. Each batch's tensors are made when it is asked for and belong
// to the caller's open scope (or to the caller, outside any scope):
//
//   for (let s = start; s < loader.stepsPerEpoch; s++) scope(() => trainStep(loader.batch(epoch, s)));
import { PftError } from "../errors.js";
import { Tensor, scope, type Device } from "../engine/index.js";
import { imageSize, type ImageDataset } from "./dataset.js";
import { Rng, Stream, deriveSeed } from "./rng.js";
import type { Batch, BatchTransform } from "./transforms.js";

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (seeded); false keeps dataset order (evaluation). */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last, smaller batch of an epoch. */
  dropLast?: boolean;
  /** Applied in order to each batch; x arrives as float32 in [0, 1], y as int64 indices. */
  transforms?: readonly BatchTransform[];
  /** Where x and y are put before the transforms run (default "cpu"). */
  device?: Device;
}

export class DataLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly transforms: readonly BatchTransform[];
  readonly device: Device;
  /** Batches per epoch: floor(N / B) with dropLast, else ceil(N / B). */
  readonly stepsPerEpoch: number;
  // Memo of the last epoch's order; it is a pure function of (seed, epoch), so this is not state.
  #memo: { epoch: number; order: Int32Array } | null = null;

  constructor(dataset: ImageDataset, opts: LoaderOptions) {
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new PftError("config", `batch size must be a positive integer, got ${batchSize}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(this.seed)) throw new PftError("config", `loader seed must be an integer, got ${this.seed}`);
    this.dropLast = opts.dropLast ?? false;
    this.transforms = opts.transforms ?? [];
    this.device = opts.device ?? "cpu";
    this.stepsPerEpoch = this.dropLast ? Math.floor(dataset.length / batchSize) : Math.ceil(dataset.length / batchSize);
    if (this.stepsPerEpoch === 0) {
      throw new PftError("config", `${dataset.name}: ${dataset.length} images make no batch of ${batchSize}${this.dropLast ? " with dropLast" : ""}`);
    }
  }

  /** The dataset indices of epoch `epoch`, in visiting order. */
  order(epoch: number): Int32Array {
    checkIndex(epoch, Infinity, "epoch");
    if (this.#memo?.epoch === epoch) return this.#memo.order;
    const n = this.dataset.length;
    const order = this.shuffle ? Rng.at(this.seed, Stream.shuffle, epoch).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    this.#memo = { epoch, order };
    return order;
  }

  /** The dataset indices of batch `step` of epoch `epoch`. */
  batchIndices(epoch: number, step: number): Int32Array {
    checkIndex(step, this.stepsPerEpoch, "step");
    const start = step * this.batchSize;
    return this.order(epoch).slice(start, Math.min(start + this.batchSize, this.dataset.length));
  }

  /** Batch `step` of epoch `epoch`, transformed; its tensors belong to the caller's scope. */
  batch(epoch: number, step: number): Batch {
    const indices = this.batchIndices(epoch, step);
    const ds = this.dataset;
    const per = imageSize(ds);
    const pixels = new Uint8Array(indices.length * per);
    const labels = new Int32Array(indices.length);
    indices.forEach((i, k) => {
      pixels.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
      labels[k] = ds.labels[i];
    });
    return scope(() => {
      let x = Tensor.fromBytes(pixels, [indices.length, ds.channels, ds.height, ds.width], "uint8");
      let y = Tensor.from(labels, [indices.length], { dtype: "int64" });
      if (this.device !== "cpu") {
        x = x.to(this.device);
        y = y.to(this.device);
      }
      const batch: Batch = { x: x.to("float32").div(255), y, indices };
      return applyTransforms(batch, this.transforms, { seed: this.seed, epoch, step, numClasses: ds.classes.length });
    });
  }

  /**
   * The batches of epoch `epoch` from `fromStep` on (resume mid-epoch with fromStep = saved step).
   * Each batch is made when the loop asks for it, outside the loop body's scope: dispose b.x and
   * b.y after use, or run the loop inside a scope (which then holds every batch until it ends).
   */
  *batches(epoch: number, fromStep = 0): Generator<Batch, void, undefined> {
    if (fromStep !== this.stepsPerEpoch) checkIndex(fromStep, this.stepsPerEpoch, "fromStep");
    for (let s = fromStep; s < this.stepsPerEpoch; s++) yield this.batch(epoch, s);
  }

  /** (epoch, step) of a global step count: where to resume after `globalStep` finished steps. */
  locate(globalStep: number): { epoch: number; step: number } {
    checkIndex(globalStep, Infinity, "global step");
    return { epoch: Math.floor(globalStep / this.stepsPerEpoch), step: globalStep % this.stepsPerEpoch };
  }
}

/**
 * Runs `transforms` over a batch, giving transform k the generator seeded by
 * (seed, epoch, step, k): the same coordinates always give the same augmentation.
 */
export function applyTransforms(
  batch: Batch,
  transforms: readonly BatchTransform[],
  at: { seed: number; epoch: number; step: number; numClasses: number },
): Batch {
  let b = batch;
  transforms.forEach((t, k) => {
    const rng = new Rng(deriveSeed(at.seed, Stream.transform, at.epoch, at.step, k));
    b = t.apply(b, { rng, epoch: at.epoch, step: at.step, numClasses: at.numClasses });
  });
  return b;
}

function checkIndex(v: number, end: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= end) throw new PftError("argument", `${what} ${v} out of range [0, ${end})`);
}
