// A tiny ViT and a synthetic texture task, shared by the trainer and baseline tests: small
// enough for many short runs on two cores, and a pure function of (seed, epoch, step).
import { Tensor } from "../../src/engine/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import type { Batch, BatchSource } from "../../src/train/index.js";

/** A progress sink that prints nothing. */
export const quiet = { start() {}, tick() {}, end() {} };

/** 8x8 grayscale, 4x4 patches: 4 patch tokens + cls, width 16, 2 blocks. */
export const tinyVit = (numClasses = 3) => new VisionTransformer({ imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, numClasses });

export interface TextureOptions {
  batch?: number;
  /** Permutes the classes (a "downstream task" for a model pretrained on the identity). */
  labels?: readonly number[];
  /** Poisons step 1 of this epoch with NaN pixels (the trainer's NaN guard). */
  poisonEpoch?: number;
}

/** Class k of 3 is a texture under noise: horizontal stripes, vertical stripes or a checkerboard. */
export function textures(n: number, seed: number, opts: TextureOptions = {}): BatchSource {
  const batch = opts.batch ?? 16;
  const labels = opts.labels ?? [0, 1, 2];
  const steps = Math.floor(n / batch);
  return {
    stepsPerEpoch: steps,
    *batches(epoch: number, fromStep = 0): Iterable<Batch> {
      for (let s = fromStep; s < steps; s++) {
        let r = (seed * 7919 + epoch * 104729 + s * 1299709) >>> 0;
        const rand = () => ((r = (Math.imul(r ^ (r >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 4294967296);
        const xs = new Float32Array(batch * 64);
        const ys: number[] = [];
        for (let b = 0; b < batch; b++) {
          const k = Math.floor(rand() * 3);
          ys.push(labels[k]);
          for (let p = 0; p < 64; p++) {
            const row = p >> 3;
            const col = p & 7;
            const on = k === 0 ? row % 2 === 0 : k === 1 ? col % 2 === 0 : (row + col) % 2 === 0;
            xs[b * 64 + p] = (on ? 1 : -1) + 0.8 * (rand() - 0.5);
            if (opts.poisonEpoch === epoch && s === 1) xs[b * 64 + p] = NaN;
          }
        }
        yield { x: Tensor.from(xs, [batch, 1, 8, 8]), y: Tensor.from(ys, [batch], { dtype: "int64" }) };
      }
    },
  };
}
