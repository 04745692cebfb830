// DataLoader: batch contents and dtypes, seeded per-epoch order, bit-identical resume at any step,
// every sample once per epoch, drop-last, and tensor ownership through scopes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DataLoader, horizontalFlip, imageAt, mixup, padCrop, randomResizedCrop, type Batch } from "../../src/data/index.js";
import { liveTensors, scope } from "../../src/engine/index.js";
import { isPftError } from "../../src/errors.js";
import { tagOf, tagged } from "./fixtures.js";

const ds = tagged(103, (i) => i % 10, 10, 1, 4, 4);

/** Dataset indices of a batch read back from the pixels (tag in bytes 0-1), not from batch.indices. */
function tagsOf(b: Batch): number[] {
  const x = b.x.data() as Float32Array;
  const per = 16;
  return Array.from({ length: b.x.shape[0] }, (_, k) => tagOf([Math.round(x[k * per] * 255), Math.round(x[k * per + 1] * 255)]));
}

/** Runs fn on each batch of the epoch from `from` on, then frees the batch (the generator makes it outside fn's scope). */
function each(L: DataLoader, epoch: number, from: number, fn: (b: Batch) => void): void {
  for (const b of L.batches(epoch, from)) {
    try {
      scope(() => fn(b));
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
  }
}

const snapshot = (b: Batch) => ({ x: Array.from(b.x.data() as Float32Array), y: b.y.toArray(), idx: Array.from(b.indices!) });

describe("DataLoader", () => {
  it("x is float32 [B, C, H, W] = bytes / 255, y int64 labels; unshuffled order is dataset order", () => {
    const L = new DataLoader(ds, { batchSize: 8 });
    assert.equal(L.stepsPerEpoch, 13);
    scope(() => {
      const b = L.batch(0, 1);
      assert.deepEqual(b.x.shape, [8, 1, 4, 4]);
      assert.equal(b.x.dtype, "float32");
      assert.equal(b.y.dtype, "int64");
      assert.deepEqual(Array.from(b.indices!), [8, 9, 10, 11, 12, 13, 14, 15]);
      assert.deepEqual(b.y.toArray(), [8, 9, 0, 1, 2, 3, 4, 5]);
      const x = b.x.data() as Float32Array;
      const img = imageAt(ds, 9);
      for (let p = 0; p < 16; p++) assert.equal(x[16 + p], Math.fround(img[p] / 255));
      const last = L.batch(0, 12);
      assert.deepEqual(last.x.shape, [7, 1, 4, 4], "the last batch is smaller without dropLast");
    });
  });

  it("same seed, same order; epochs differ; seeds differ; every sample exactly once per epoch", () => {
    const A = new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 11 });
    const B = new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 11 });
    const C = new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 12 });
    assert.deepEqual(Array.from(A.order(3)), Array.from(B.order(3)));
    assert.notDeepEqual(Array.from(A.order(0)), Array.from(A.order(1)));
    assert.notDeepEqual(Array.from(A.order(0)), Array.from(C.order(0)));
    assert.deepEqual(Array.from(A.order(0)), Array.from(new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 11 }).order(0)), "a fresh loader agrees");
    for (const epoch of [0, 1]) {
      const seen: number[] = [];
      each(A, epoch, 0, (b) => void seen.push(...tagsOf(b)));
      assert.equal(seen.length, 103);
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 103 }, (_, i) => i), `epoch ${epoch} covers the dataset once`);
      assert.deepEqual(seen, Array.from(A.order(epoch)), "batches follow order(epoch)");
    }
  });

  it("dropLast drops the short batch; a dataset smaller than a batch is an error only with dropLast", () => {
    const L = new DataLoader(ds, { batchSize: 10, shuffle: true, dropLast: true, seed: 1 });
    assert.equal(L.stepsPerEpoch, 10);
    let n = 0;
    each(L, 0, 0, (b) => {
      assert.equal(b.x.shape[0], 10);
      n += b.x.shape[0];
    });
    assert.equal(n, 100);
    assert.equal(new DataLoader(ds, { batchSize: 200 }).stepsPerEpoch, 1);
    assert.throws(() => new DataLoader(ds, { batchSize: 200, dropLast: true }), (e: unknown) => isPftError(e) && e.code === "config");
    assert.throws(() => L.batch(0, 10), (e: unknown) => isPftError(e) && e.code === "argument");
  });

  it("resuming at (epoch, step) reproduces the remaining batches bit for bit, augmentation included", () => {
    const opts = {
      batchSize: 6,
      shuffle: true,
      seed: 99,
      transforms: [randomResizedCrop({ size: 6 }), padCrop(2), horizontalFlip(), mixup({ cutmixAlpha: 1 })],
    };
    const full = new DataLoader(ds, opts);
    const uninterrupted: ReturnType<typeof snapshot>[] = [];
    for (const epoch of [0, 1]) each(full, epoch, 0, (b) => void uninterrupted.push(snapshot(b)));
    const k = 7;
    const resumed = new DataLoader(ds, opts); // a new process: no state carried over
    const at = resumed.locate(full.stepsPerEpoch + k);
    assert.deepEqual(at, { epoch: 1, step: k });
    const rest: ReturnType<typeof snapshot>[] = [];
    each(resumed, at.epoch, at.step, (b) => void rest.push(snapshot(b)));
    assert.equal(rest.length, full.stepsPerEpoch - k);
    assert.deepEqual(rest, uninterrupted.slice(full.stepsPerEpoch + k));
    assert.notDeepEqual(uninterrupted[0].x, uninterrupted[full.stepsPerEpoch].x, "epochs are augmented differently");
  });

  it("batch tensors belong to the caller's scope: none leak", () => {
    const L = new DataLoader(ds, { batchSize: 16, shuffle: true, transforms: [padCrop(), horizontalFlip(), mixup()] });
    const before = liveTensors();
    for (let s = 0; s < L.stepsPerEpoch; s++) scope(() => void L.batch(2, s).x.sum().item());
    assert.equal(liveTensors(), before);
    each(L, 1, 0, (b) => void b.y.sum().item());
    assert.equal(liveTensors(), before, "the generator's batches are freed by their disposal");
    const kept = scope(() => L.batch(0, 0));
    assert.equal(liveTensors(), before + 2, "x and y survive the scope that returned them");
    kept.x.dispose();
    kept.y.dispose();
    assert.equal(liveTensors(), before);
  });
});
