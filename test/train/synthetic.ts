// Fixtures of the trainer tests: a tiny ViT and a synthetic texture task small enough for
// many short runs on two cores.
import { Tensor } from "../../src/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import type { BatchSource, Batch } from "../../src/train/index.js";

export const quiet = { start() {}, tick() {}, end() {} };
export const tiny = () => new VisionTransformer({ imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, numClasses: 3 });

/** Class k is a texture (horizontal stripes, vertical stripes, checkerboard) under noise. */
export function synthetic(n: number, seed: number, opts: { batch?: number; poisonEpoch?: number } = {}): BatchSource {
  const batch = opts.batch ?? 16;
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
          ys.push(k);
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

