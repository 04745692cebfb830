// The corruptions: deterministic for a seed, growing with severity (mean L1 distance to the clean
// image over a few images), shape and uint8 range kept, on greyscale 28x28 and colour 32x32.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, imageAt, subset, type ImageDataset } from "../../src/data/index.js";
import {
  CORRUPTIONS,
  EXTRA_CORRUPTIONS,
  SEVERITIES,
  STANDARD_CORRUPTIONS,
  corruptDataset,
  corruptImage,
  corruptionRng,
  corruptionsFor,
  jpegRoundTrip,
  resizeDataset,
  type CorruptionName,
} from "../../src/robust/index.js";
import { colourFew, mnistFew } from "./fixtures.js";

const shapeOf = (ds: ImageDataset) => ({ channels: ds.channels, height: ds.height, width: ds.width });

/** Mean absolute difference (grey levels) between clean and corrupted images, per severity. */
function distances(ds: ImageDataset, name: CorruptionName): number[] {
  return SEVERITIES.map((sev) => {
    let s = 0;
    for (let i = 0; i < ds.length; i++) {
      const x = imageAt(ds, i);
      const y = corruptImage(x, shapeOf(ds), name, sev, corruptionRng(0, name, i));
      for (let k = 0; k < x.length; k++) s += Math.abs(x[k] - y[k]);
    }
    return s / ds.images.length;
  });
}

test("the catalogue: 15 standard types in Hendrycks' order, 4 extras, saturate only for colour", () => {
  assert.deepEqual(STANDARD_CORRUPTIONS, [
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
  ]);
  assert.deepEqual(EXTRA_CORRUPTIONS, ["gaussian_blur", "speckle_noise", "spatter", "saturate"]);
  assert.equal(corruptionsFor(1).length, 15);
  assert.equal(corruptionsFor(1, { extras: true }).length, 18);
  assert.equal(corruptionsFor(3, { extras: true }).length, 19);
});

for (const [what, make] of [["greyscale 28x28", () => mnistFew(6)], ["colour 32x32", () => colourFew(6)]] as const) {
  test(`every corruption is deterministic for a seed and keeps shape and uint8 range (${what})`, () => {
    const ds = make();
    for (const name of corruptionsFor(ds.channels, { extras: true })) {
      for (const sev of [1, 5]) {
        const x = imageAt(ds, 0);
        const a = corruptImage(x, shapeOf(ds), name, sev, new Rng(7));
        const b = corruptImage(x, shapeOf(ds), name, sev, new Rng(7));
        assert.ok(a instanceof Uint8Array, name);
        assert.equal(a.length, x.length, name);
        assert.deepEqual(a, b, `${name} ${sev}: same seed, same pixels`);
      }
      const c = corruptDataset(ds, name, 3, { seed: 1 });
      assert.deepEqual([c.length, c.channels, c.height, c.width], [ds.length, ds.channels, ds.height, ds.width], name);
      assert.deepEqual(c.labels, ds.labels);
      assert.deepEqual(c.images, corruptDataset(ds, name, 3, { seed: 1 }).images, `${name}: corruptDataset is deterministic`);
    }
  });

  test(`each standard corruption changes the image more at every severity (${what})`, () => {
    const ds = make();
    // saturate and spatter keep make_cifar_c.py's ladders, which are not monotone (docs/robustness.md)
    for (const name of corruptionsFor(ds.channels, { extras: true }).filter((n) => n !== "saturate" && n !== "spatter")) {
      const d = distances(ds, name);
      assert.ok(d[0] > 0, `${name}: severity 1 changes the image`);
      for (let s = 1; s < d.length; s++) assert.ok(d[s] > d[s - 1], `${name}: distance ${d.map((v) => v.toFixed(2)).join(" < ")}`);
    }
  });
}

test("random corruptions depend on the seed; a subset gets the full split's pixels", () => {
  const ds = mnistFew(6);
  const x = imageAt(ds, 0);
  for (const name of ["gaussian_noise", "glass_blur", "snow", "frost", "fog", "elastic_transform"] as const) {
    assert.notDeepEqual(corruptImage(x, shapeOf(ds), name, 3, new Rng(1)), corruptImage(x, shapeOf(ds), name, 3, new Rng(2)), name);
  }
  const full = corruptDataset(ds, "impulse_noise", 4, { seed: 3 });
  const part = corruptDataset(subset(ds, [2, 5]), "impulse_noise", 4, { seed: 3, indices: [2, 5] });
  assert.deepEqual(imageAt(part, 0), imageAt(full, 2));
  assert.deepEqual(imageAt(part, 1), imageAt(full, 5));
  assert.notDeepEqual(corruptDataset(ds, "impulse_noise", 4, { seed: 4 }).images, full.images);
});

test("JPEG: many images per encode give the pixels of one encode per image", () => {
  for (const ds of [mnistFew(5), colourFew(3)]) {
    const batched = corruptDataset(ds, "jpeg_compression", 5);
    for (let i = 0; i < ds.length; i++) {
      assert.deepEqual(imageAt(batched, i), corruptImage(imageAt(ds, i), shapeOf(ds), "jpeg_compression", 5, new Rng(0)));
    }
  }
  assert.deepEqual(jpegRoundTrip([], 50), []);
});

test("resizeDataset upscales tiny images for corruption (bilinear, as the pipeline)", () => {
  const ds = mnistFew(2);
  const small = resizeDataset(ds, 8);
  assert.deepEqual([small.height, small.width, small.channels, small.length], [8, 8, 1, 2]);
  const big = resizeDataset(small, 28);
  assert.deepEqual([big.height, big.width], [28, 28]);
  assert.deepEqual(big.labels, ds.labels);
  assert.equal(resizeDataset(ds, 28), ds);
});

test("severity and name are checked", () => {
  const ds = mnistFew(1);
  assert.throws(() => corruptImage(imageAt(ds, 0), shapeOf(ds), "gaussian_noise", 6, new Rng(0)), /severity/);
  assert.throws(() => corruptImage(imageAt(ds, 0), shapeOf(ds), "rain" as CorruptionName, 1, new Rng(0)), /unknown corruption/);
  assert.throws(() => corruptDataset(ds, "saturate", 1), /colour/);
  assert.equal(CORRUPTIONS.length, 19);
});
