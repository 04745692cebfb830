// RandAugment and random erasing (src/data/augment.ts): the colour ops against torchvision's
// functional ops (Debian's python3-torchvision) at fixed magnitudes, geometric ops on hand-checked
// cases and against torchvision's rotate, timm's config strings, determinism under a seed, and the
// shapes and value ranges the batch transforms produce.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/engine/index.js";
import { PftError } from "../../src/errors.js";
import { Rng, affine, colourOps, geometricOps, parseRandAugment, randAugment, randAugmentImage, randAugmentOps, randomErasing, type Image } from "../../src/data/index.js";
import { trainConfig } from "../../src/train/index.js";
import { runPython } from "../helpers/reference.js";

/** A 3 x 12 x 10 image of byte values (/255), a pure function of the seed. */
function byteImage(seed: number, c = 3, h = 12, w = 10): Image {
  const rng = new Rng(seed);
  return { c, h, w, data: Float32Array.from({ length: c * h * w }, () => rng.int(0, 256) / 255) };
}
const ctx = (seed: number) => ({ rng: new Rng(seed), epoch: 0, step: 0, numClasses: 10 });
const batchOf = (imgs: Image[]) => Tensor.from(Float32Array.from(imgs.flatMap((i) => [...i.data])), [imgs.length, imgs[0].c, imgs[0].h, imgs[0].w]);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test("colour ops equal torchvision's functional ops at fixed magnitudes", () => {
  const img = byteImage(1);
  const script = `
import sys, json, torch
import torchvision.transforms.functional as TF
d = json.loads(sys.argv[1])
x = torch.tensor(d["data"], dtype=torch.float32).reshape(d["c"], d["h"], d["w"])
u8 = (x * 255).round().to(torch.uint8)
f = lambda t: (t.float() / 255).flatten().tolist() if t.dtype == torch.uint8 else t.flatten().tolist()
out = {
  "invert": f(TF.invert(x)),
  "posterize2": f(TF.posterize(u8, 2)),
  "solarize": f(TF.solarize(x, 100 / 255)),
  "autocontrast": f(TF.autocontrast(x)),
  "equalize": f(TF.equalize(u8)),
  "brightness": f(TF.adjust_brightness(x, 1.7)),
  "contrast": f(TF.adjust_contrast(x, 0.4)),
  "color": f(TF.adjust_saturation(x, 1.6)),
  "sharpness": f(TF.adjust_sharpness(x, 1.8)),
  "rotate": f(TF.rotate(x, 30.0, interpolation=TF.InterpolationMode.BILINEAR)),
}
print(json.dumps(out))`;
  const ref = JSON.parse(runPython(script, [JSON.stringify({ c: img.c, h: img.h, w: img.w, data: [...img.data] })])) as Record<string, number[]>;
  const ours: Record<string, Image> = {
    invert: colourOps.invert(img),
    posterize2: colourOps.posterize(img, 2),
    solarize: colourOps.solarize(img, 100),
    autocontrast: colourOps.autocontrast(img),
    equalize: colourOps.equalize(img),
    brightness: colourOps.brightness(img, 1.7),
    contrast: colourOps.contrast(img, 0.4),
    color: colourOps.color(img, 1.6),
    sharpness: colourOps.sharpness(img, 1.8),
    rotate: geometricOps.rotate(img, 30, 0),
  };
  // torchvision's luma weights red 0.2989 where PIL (and so timm, and this file) uses 0.299.
  const tolerance: Record<string, number> = { contrast: 1e-4, color: 1e-4 };
  for (const [name, out] of Object.entries(ours)) {
    const d = maxDiff(out.data, ref[name]);
    assert.ok(d < (tolerance[name] ?? 1e-5), `${name}: max difference ${d} from torchvision`);
  }
});

test("geometric ops on hand-checked cases: 90-degree rotation, integer translation, shear, identity", () => {
  const img = byteImage(2, 1, 4, 4);
  const px = (im: Image, y: number, x: number) => im.data[y * im.w + x];
  // Counter-clockwise by 90 degrees: out[y][x] = in[x][w - 1 - y] (numpy's rot90).
  const rot = geometricOps.rotate(img, 90, 0.5);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.equal(px(rot, y, x), px(img, x, 3 - y), `rot90 at ${y},${x}`);
  // Translating by +1 pixel moves the content left and fills the last column.
  const t = geometricOps.translateX(img, 1, 0.25);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 3; x++) assert.equal(px(t, y, x), px(img, y, x + 1));
    assert.equal(px(t, y, 3), 0.25);
  }
  // ShearX by 1 (timm's corner origin): output pixel (x, y) samples x + 0.5 + (y + 0.5), so row 0 lies halfway between two pixels.
  const s = geometricOps.shearX(img, 1, 0);
  assert.ok(Math.abs(px(s, 0, 0) - (px(img, 0, 0) + px(img, 0, 1)) / 2) < 1e-6, "row 0 samples halfway between pixels 0 and 1");
  assert.deepEqual([...affine(img, [1, 0, 0, 0, 1, 0], 0).data], [...img.data], "the identity map changes nothing");
});

test("timm's config strings: rand-m9-mstd0.5-inc1 and errors", () => {
  assert.deepEqual(parseRandAugment("rand-m9-mstd0.5-inc1"), { n: 2, m: 9, mstd: 0.5, mmax: 10, increasing: true, p: 0.5 });
  assert.deepEqual(parseRandAugment("rand-m7-n3"), { n: 3, m: 7, mstd: 0, mmax: 10, increasing: false, p: 0.5 });
  assert.throws(() => parseRandAugment("augmix-m5"), (e: unknown) => e instanceof PftError && /only RandAugment/.test(e.message));
  assert.throws(() => parseRandAugment("rand-m9-x3"), /unknown RandAugment section 'x3'/);
  assert.throws(() => trainConfig({ autoAugment: "rand-q1" }), /unknown RandAugment section/);
  assert.equal(trainConfig({ autoAugment: "rand-m9-mstd0.5-inc1", reprob: 0.25 }).reprob, 0.25);
  assert.throws(() => trainConfig({ reprob: 1.5 }), /reprob/);
  // inc1 swaps in the increasing-severity variants of timm's _RAND_INCREASING_TRANSFORMS.
  assert.deepEqual(randAugmentOps(true).map(([n]) => n), ["AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"]);
});

test("RandAugment: deterministic under a seed, [0, 1] values, the batch's shape, n ops at most, every op reachable", () => {
  const imgs = [byteImage(3), byteImage(4), byteImage(5), byteImage(6)];
  const x = batchOf(imgs);
  const t = randAugment("rand-m9-mstd0.5-inc1");
  const a = t.apply({ x, y: Tensor.zeros([4]) }, ctx(7)).x;
  const b = t.apply({ x, y: Tensor.zeros([4]) }, ctx(7)).x;
  const c = t.apply({ x, y: Tensor.zeros([4]) }, ctx(8)).x;
  assert.deepEqual(a.shape, [4, 3, 12, 10]);
  assert.ok(a.equal(b), "same seed, same images");
  assert.ok(!a.equal(c), "another seed, other images");
  const v = a.toArray();
  assert.ok(v.every((p) => p >= 0 && p <= 1), "values stay in [0, 1]");
  const cfg = parseRandAugment("rand-m9-mstd0.5-inc1");
  const seen = new Map<string, number>();
  let counts = 0;
  for (let s = 0; s < 600; s++) {
    const { ran } = randAugmentImage(imgs[0], cfg, new Rng(s));
    assert.ok(ran.length <= 2);
    counts += ran.length;
    for (const r of ran) seen.set(r, (seen.get(r) ?? 0) + 1);
  }
  assert.equal(seen.size, 15, `ops seen: ${[...seen.keys()].join(", ")}`);
  assert.ok(Math.abs(counts / 600 - 1) < 0.1, `each of the 2 drawn ops runs with p 0.5: ${counts / 600} per image`);
});

test("random erasing: deterministic, one box of N(0, 1) pixels per erased image, the rest unchanged", () => {
  const imgs = Array.from({ length: 64 }, (_, i) => byteImage(10 + i, 3, 20, 20));
  const x = batchOf(imgs);
  const t = randomErasing({ p: 0.5 });
  const a = t.apply({ x, y: Tensor.zeros([64]) }, ctx(1)).x;
  assert.ok(a.equal(t.apply({ x, y: Tensor.zeros([64]) }, ctx(1)).x), "same seed, same boxes");
  assert.deepEqual(a.shape, x.shape);
  const av = a.toArray();
  const xv = x.toArray();
  let erased = 0;
  const noise: number[] = [];
  for (let i = 0; i < 64; i++) {
    const changed: number[] = [];
    for (let k = 0; k < 3 * 400; k++) if (av[i * 1200 + k] !== xv[i * 1200 + k]) changed.push(k);
    if (changed.length === 0) continue;
    erased++;
    // One rectangle per channel, the same in every channel: area within [0.02, 1/3] of 400 (rounded sides).
    const pix = new Set(changed.map((k) => k % 400));
    const ys = [...pix].map((p) => Math.floor(p / 20));
    const xs = [...pix].map((p) => p % 20);
    const [h, w] = [Math.max(...ys) - Math.min(...ys) + 1, Math.max(...xs) - Math.min(...xs) + 1];
    assert.ok(pix.size <= h * w && pix.size >= h * w - 2, `image ${i}: a rectangle (${pix.size} of ${h}x${w})`);
    assert.ok(h * w >= 0.02 * 400 * 0.5 && h * w <= (400 / 3) * 1.3, `image ${i}: box area ${h * w}`);
    for (const k of changed) noise.push(av[i * 1200 + k]);
  }
  assert.ok(erased > 20 && erased < 44, `about half the images erased: ${erased}`);
  const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
  const sd = Math.sqrt(noise.reduce((s, v) => s + (v - mean) ** 2, 0) / noise.length);
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(sd - 1) < 0.1, `erased pixels ~ N(0, 1): mean ${mean}, sd ${sd}`);
  assert.ok(randomErasing({ p: 0 }).apply({ x, y: Tensor.zeros([64]) }, ctx(1)).x.equal(x), "p 0 changes nothing");
  assert.throws(() => randomErasing({ p: 2 }), /probability/);
});

test("the training pipeline puts RandAugment before normalize and random erasing after it; both off by default and without augmentation", async () => {
  const { trainTransforms } = await import("../../src/train/pipeline.js");
  const { createModel } = await import("../../src/models/index.js");
  const model = createModel("vit_micro_patch4_28");
  const ds = { channels: 1, height: 28, width: 28 } as never;
  const names = (cfg: Record<string, unknown>, augment = true) => trainTransforms(ds, model, trainConfig(cfg), augment).map((t) => t.name);
  assert.deepEqual(names({ autoAugment: "rand-m9-mstd0.5-inc1", reprob: 0.25 }), ["padCrop", "randAugment", "normalize", "randomErasing"]);
  assert.deepEqual(names({}), ["padCrop", "normalize"]);
  assert.deepEqual(names({ autoAugment: "rand-m9-mstd0.5-inc1", reprob: 0.25 }, false), ["normalize"]);
  model.dispose();
});
