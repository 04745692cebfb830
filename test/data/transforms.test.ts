// Batch transforms: shapes and value ranges, exact values where they are defined (normalise,
// channel conversion, flip, pad-crop windows, mixup/cutmix algebra and label mass), determinism.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  applyTransforms,
  horizontalFlip,
  mixup,
  normalize,
  padCrop,
  randomResizedCrop,
  resize,
  softTargets,
  toChannels,
  Rng,
  type Batch,
  type BatchTransform,
} from "../../src/data/index.js";
import { Tensor, scope } from "../../src/engine/index.js";
import { cropParams, cutmixBox } from "../../src/data/transforms.js";
import { isPftError } from "../../src/errors.js";
import { assertClose } from "../helpers/reference.js";

/** A batch of B images C x H x W with values in [0, 1] that differ per sample, channel and pixel. */
function batch(b: number, c: number, h: number, w: number, k = 10): Batch {
  const n = b * c * h * w;
  const v = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 251) / 250);
  return { x: Tensor.from(v, [b, c, h, w]), y: Tensor.from(Int32Array.from({ length: b }, (_, i) => (i * 3) % k), [b], { dtype: "int64" }) };
}

const run = (t: BatchTransform, b: Batch, seed = 1, step = 0, k = 10): Batch => applyTransforms(b, [t], { seed, epoch: 0, step, numClasses: k });
const vals = (t: Tensor): number[] => Array.from(t.data() as Float32Array);
const inUnit = (t: Tensor): boolean => t.amin().item() >= 0 && t.amax().item() <= 1;

describe("deterministic transforms", () => {
  it("normalize gives (x - mean) / std per channel", () =>
    scope(() => {
      const b = batch(2, 3, 2, 2);
      const out = run(normalize([0.1, 0.2, 0.3], [0.5, 0.25, 2]), b);
      const x = vals(b.x);
      const o = vals(out.x);
      for (let i = 0; i < x.length; i++) {
        const ch = Math.floor(i / 4) % 3;
        assert.ok(Math.abs(o[i] - (x[i] - [0.1, 0.2, 0.3][ch]) / [0.5, 0.25, 2][ch]) < 1e-6);
      }
      assert.throws(() => run(normalize([0, 0], [1, 1]), b), (e: unknown) => isPftError(e) && e.code === "shape");
    }));

  it("resize gives the model's size, keeps constants constant and values in range", () =>
    scope(() => {
      const b = batch(3, 1, 8, 8);
      const out = run(resize([12, 16]), b);
      assert.deepEqual(out.x.shape, [3, 1, 12, 16]);
      assert.ok(inUnit(out.x));
      const flat = run(resize(224), { x: Tensor.full([2, 3, 8, 8], 0.25), y: b.y });
      assert.deepEqual(flat.x.shape, [2, 3, 224, 224]);
      assert.ok(flat.x.sub(0.25).abs().amax().item() < 1e-6);
      assert.equal(run(resize([8, 8]), b).x, b.x, "same size is a no-op");
    }));

  it("toChannels replicates gray to RGB and takes luma from RGB", () =>
    scope(() => {
      const g = batch(2, 1, 3, 3);
      const rgb = run(toChannels(3), g);
      assert.deepEqual(rgb.x.shape, [2, 3, 3, 3]);
      for (let c = 0; c < 3; c++) assert.ok(rgb.x.narrow(1, c, 1).equal(g.x));
      const back = run(toChannels(1), rgb);
      assert.deepEqual(back.x.shape, [2, 1, 3, 3]);
      assertClose(vals(back.x), vals(g.x), 1e-5, 1e-6, "luma of equal channels is the channel");
      const c3 = batch(1, 3, 1, 1);
      const [r, gg, bb] = vals(c3.x);
      assertClose(vals(run(toChannels(1), c3).x), [0.299 * r + 0.587 * gg + 0.114 * bb], 1e-5, 1e-6);
    }));
});

describe("random transforms", () => {
  it("horizontalFlip(1) mirrors every image and is an involution; p=0.5 flips some, not all", () =>
    scope(() => {
      const b = batch(4, 2, 3, 5);
      const once = run(horizontalFlip(1), b);
      assert.ok(once.x.equal(b.x.flip([3])));
      assert.ok(run(horizontalFlip(1), once).x.equal(b.x), "flip twice = identity");
      const half = run(horizontalFlip(0.5), batch(64, 1, 2, 2), 3);
      const src = batch(64, 1, 2, 2).x;
      let flipped = 0;
      for (let i = 0; i < 64; i++) {
        const xi = half.x.narrow(0, i, 1);
        if (xi.equal(src.narrow(0, i, 1).flip([3]))) flipped++;
        else assert.ok(xi.equal(src.narrow(0, i, 1)), `sample ${i} neither kept nor flipped`);
      }
      assert.ok(flipped > 16 && flipped < 48, `${flipped} of 64 flipped`);
      // the same (seed, step) flips the same samples: applying it twice is the identity too
      assert.ok(run(horizontalFlip(0.5), half, 3).x.equal(src));
    }));

  it("padCrop keeps the shape; each sample is a window of the zero-padded image", () =>
    scope(() => {
      const b = batch(6, 2, 5, 5);
      const out = run(padCrop(2), b, 4);
      assert.deepEqual(out.x.shape, [6, 2, 5, 5]);
      assert.ok(inUnit(out.x));
      const padded = b.x.pad([2, 2, 2, 2], 0);
      const offsets = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const xi = out.x.narrow(0, i, 1);
        let found = "";
        for (let t = 0; t <= 4 && !found; t++) for (let l = 0; l <= 4 && !found; l++) if (xi.equal(padded.narrow(0, i, 1).narrow(2, t, 5).narrow(3, l, 5))) found = `${t},${l}`;
        assert.ok(found, `sample ${i} is not a window of its padded image`);
        offsets.add(found);
      }
      assert.ok(offsets.size > 1, "offsets vary between samples");
    }));

  it("randomResizedCrop: output size, range, crop boxes inside the image; full-scale square crop is identity", () =>
    scope(() => {
      const b = batch(5, 3, 8, 8);
      const out = run(randomResizedCrop({ size: [12, 10] }), b);
      assert.deepEqual(out.x.shape, [5, 3, 12, 10]);
      assert.ok(inUnit(out.x));
      assert.deepEqual(run(randomResizedCrop(), b).x.shape, [5, 3, 8, 8], "default size = input size");
      const same = run(randomResizedCrop({ scale: [1, 1], ratio: [1, 1] }), b);
      assert.ok(same.x.equal(b.x));
      const r = new Rng(5);
      for (let i = 0; i < 2000; i++) {
        const [t, l, h, w] = cropParams(r, 8, 6, [0.08, 1], [3 / 4, 4 / 3]);
        assert.ok(t >= 0 && l >= 0 && h >= 1 && w >= 1 && t + h <= 8 && l + w <= 6, `crop ${[t, l, h, w]}`);
      }
    }));

  it("the same (seed, epoch, step) gives the same augmentation; another step another", () =>
    scope(() => {
      const t = randomResizedCrop({ scale: [0.3, 1] });
      const a = run(t, batch(4, 1, 8, 8), 7, 2);
      assert.ok(run(t, batch(4, 1, 8, 8), 7, 2).x.equal(a.x));
      assert.ok(!run(t, batch(4, 1, 8, 8), 7, 3).x.equal(a.x));
    }));
});

describe("mixup and cutmix", () => {
  const K = 10;
  const rowsSumToOne = (y: Tensor) => assertClose(vals(y.sum(1)), new Array(y.shape[0]).fill(1), 1e-6, 1e-6, "soft-target row sums");

  it("mixup: x = lam*x_i + (1-lam)*x_(B-1-i), y = lam*smooth(y_i) + (1-lam)*smooth(y_(B-1-i))", () =>
    scope(() => {
      const b = batch(6, 3, 4, 4);
      const out = run(mixup({ mixupAlpha: 1, labelSmoothing: 0.1 }), b, 21);
      assert.equal(out.mix!.kind, "mixup");
      const lam = out.mix!.lam;
      assert.ok(lam > 0 && lam < 1);
      const expect = b.x.mul(lam).add(b.x.flip([0]).mul(1 - lam));
      assertClose(vals(out.x), vals(expect), 1e-6, 1e-6, "mixed images");
      assert.deepEqual(out.y.shape, [6, K]);
      assert.equal(out.y.dtype, "float32");
      rowsSumToOne(out.y);
      const y = b.y.toArray();
      const on = 0.9 + 0.01;
      const off = 0.01;
      const row0 = vals(out.y).slice(0, K);
      for (let c = 0; c < K; c++) {
        const e = lam * (c === y[0] ? on : off) + (1 - lam) * (c === y[5] ? on : off);
        assert.ok(Math.abs(row0[c] - e) < 1e-6, `y[0][${c}] = ${row0[c]}, expected ${e}`);
      }
      assert.ok(inUnit(out.x), "a convex combination stays in [0, 1]");
    }));

  it("cutmix: the box comes from the partner, the rest is untouched, lam = 1 - box area", () =>
    scope(() => {
      const b = batch(4, 2, 16, 16);
      const out = run(mixup({ mixupAlpha: 0, cutmixAlpha: 1, labelSmoothing: 0 }), b, 5);
      const { kind, lam, box } = out.mix!;
      assert.equal(kind, "cutmix");
      const [t, bo, l, r] = box!;
      assert.ok(bo > t && r > l, `box ${box}`);
      assert.ok(Math.abs(lam - (1 - ((bo - t) * (r - l)) / 256)) < 1e-12);
      const x = vals(b.x);
      const o = vals(out.x);
      for (let i = 0; i < 4; i++) {
        for (let c = 0; c < 2; c++) {
          for (let yy = 0; yy < 16; yy++) {
            for (let xx = 0; xx < 16; xx++) {
              const inBox = yy >= t && yy < bo && xx >= l && xx < r;
              const src = inBox ? 3 - i : i;
              assert.equal(o[((i * 2 + c) * 16 + yy) * 16 + xx], x[((src * 2 + c) * 16 + yy) * 16 + xx]);
            }
          }
        }
      }
      rowsSumToOne(out.y);
      const y = b.y.toArray();
      const row1 = vals(out.y).slice(K, 2 * K);
      assert.ok(Math.abs(row1[y[1]] - (y[1] === y[2] ? 1 : lam)) < 1e-6);
    }));

  it("cutmix boxes have side trunc(H * sqrt(1 - lam)) unless clipped at the border (timm's rand_bbox)", () => {
    const r = new Rng(8);
    const clipped = { top: 0, bottom: 0, left: 0, right: 0 };
    for (let i = 0; i < 500; i++) {
      const [t, b, l, rr] = cutmixBox(r, 16, 12, 0.75); // sides 8 and 6
      assert.ok(0 <= t && t <= b && b <= 16 && 0 <= l && l <= rr && rr <= 12, `box ${[t, b, l, rr]}`);
      if (t > 0 && b < 16) assert.equal(b - t, 8);
      else assert.ok(b - t < 8 || (t === 0 && b === 8) || (b === 16 && t === 8));
      if (l > 0 && rr < 12) assert.equal(rr - l, 6);
      else assert.ok(rr - l <= 6);
      if (t === 0) clipped.top++;
      if (b === 16) clipped.bottom++;
      if (l === 0) clipped.left++;
      if (rr === 12) clipped.right++;
    }
    for (const [side, n] of Object.entries(clipped)) assert.ok(n > 0, `never clipped at the ${side}`);
  });

  it("both enabled: some batches mixup, some cutmix; prob 0 only smooths labels; deterministic per step", () =>
    scope(() => {
      const t = mixup({ mixupAlpha: 0.8, cutmixAlpha: 1, labelSmoothing: 0.1 });
      const kinds = new Set<string>();
      for (let step = 0; step < 20; step++) {
        const out = run(t, batch(4, 1, 8, 8), 1, step);
        kinds.add(out.mix!.kind);
        rowsSumToOne(out.y);
      }
      assert.deepEqual([...kinds].sort(), ["cutmix", "mixup"]);
      const a = run(t, batch(4, 1, 8, 8), 1, 3);
      const b2 = run(t, batch(4, 1, 8, 8), 1, 3);
      assert.ok(a.x.equal(b2.x) && a.y.equal(b2.y));

      const b = batch(4, 1, 4, 4);
      const none = run(mixup({ prob: 0, labelSmoothing: 0.2 }), b);
      assert.equal(none.mix!.kind, "none");
      assert.ok(none.x.equal(b.x));
      assert.ok(none.y.equal(softTargets(b.y, K, 1, 0.2)));
      const row = vals(none.y).slice(0, K);
      assert.ok(Math.abs(row[b.y.toArray()[0]] - (0.8 + 0.02)) < 1e-6 && Math.abs(row[(b.y.toArray()[0] + 1) % K] - 0.02) < 1e-6);
      assert.throws(() => run(t, none), (e: unknown) => isPftError(e) && e.code === "shape", "soft targets cannot be mixed again");
    }));
});
