// The paper's strong augmentation ("in line with SSF", i.e. timm's train.py recipe): RandAugment
// as timm's `rand-m9-mstd0.5-inc1` and RandomErasing as timm's `--reprob 0.25 --remode pixel`.
//
// RandAugment (timm's rand_augment_transform, RandAugment, AugmentOp): per image, `n` ops drawn
// with replacement from the op set; each runs with probability 0.5 at a magnitude drawn as
// N(m, mstd) clipped to [0, mmax] (10). `inc1` selects the increasing-severity variants (a larger
// magnitude always distorts more): posterize keeps 4 - floor(m/10·4) bits, solarize inverts from
// 256 - floor(m/10·256), colour, contrast, brightness and sharpness blend by 1 ± m/10·0.9. The
// others: rotate ± m/10·30 degrees, shear ± m/10·0.3, translate ± m/10·0.45 of the side, solarize-
// add + floor(m/10·110) below 128; autocontrast, equalize, invert have no magnitude. Signs are
// random (p 0.5). Pixel values are [0, 1] floats (the loader's), in 1/255 steps where PIL works on
// bytes (posterize, solarize thresholds, equalize's histogram). Geometric ops sample bilinearly
// at pixel centres, as PIL's affine transform with timm's corner origin for shear and translate
// and the image centre for rotation, filling with `fill` (timm: the normalisation mean; 0.5 here,
// the pipeline's). timm picks bilinear or bicubic at random; here it is always bilinear.
//
// RandomErasing (timm's RandomErasing, mode 'pixel', one box): with probability p, a box of area
// U(0.02, 1/3) of the image and aspect exp(U(log 0.3, log 1/0.3)) (10 tries, h < H and w < W)
// is filled with per-pixel N(0, 1) values. It runs on normalised images (after normalize), as in
// timm, so N(0, 1) is "noise at the data's scale".
//
// Randomness comes from the transform's ctx.rng (the loader's per-batch generator): the same seed,
// epoch and step give the same images.
import { PftError } from "../errors.js";
import { Tensor } from "../engine/index.js";
import type { Rng } from "./rng.js";
import type { BatchTransform } from "./transforms.js";

// ------------------------------------------------------------------ one image: [C, H, W] floats

/** One image as JS floats, channel-major. */
export interface Image {
  c: number;
  h: number;
  w: number;
  data: Float32Array;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const toByte = (v: number): number => Math.round(clamp01(v) * 255);
const map = (img: Image, f: (v: number) => number): Image => ({ ...img, data: img.data.map(f) });

/** ITU-R 601-2 luma (PIL's "L", torchvision's rgb_to_grayscale) per pixel; the image itself for one channel. */
function gray(img: Image): Float32Array {
  const n = img.h * img.w;
  if (img.c === 1) return img.data.slice(0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.299 * img.data[i] + 0.587 * img.data[n + i] + 0.114 * img.data[2 * n + i];
  return out;
}

/** img · f + other · (1 - f), clamped to [0, 1] (PIL's ImageEnhance, torchvision's _blend). */
function blend(img: Image, other: (ch: number, i: number) => number, f: number): Image {
  const n = img.h * img.w;
  const data = new Float32Array(img.data.length);
  for (let ch = 0; ch < img.c; ch++) for (let i = 0; i < n; i++) data[ch * n + i] = clamp01(f * img.data[ch * n + i] + (1 - f) * other(ch, i));
  return { ...img, data };
}

export const colourOps = {
  invert: (img: Image): Image => map(img, (v) => 1 - v),
  /** Keeps the top `bits` bits of each byte. */
  posterize: (img: Image, bits: number): Image => {
    const mask = 0xff & ~((1 << (8 - bits)) - 1);
    return map(img, (v) => (toByte(v) & mask) / 255);
  },
  /** Inverts the pixels at or above threshold / 255. */
  solarize: (img: Image, threshold: number): Image => map(img, (v) => (v >= threshold / 255 ? 1 - v : v)),
  /** Adds add / 255 to the pixels below threshold / 255 (clamped). */
  solarizeAdd: (img: Image, add: number, threshold = 128): Image => map(img, (v) => (v < threshold / 255 ? clamp01(v + add / 255) : v)),
  /** Stretches each channel to [0, 1] (unchanged where the channel is flat). */
  autocontrast: (img: Image): Image => {
    const n = img.h * img.w;
    const data = img.data.slice();
    for (let ch = 0; ch < img.c; ch++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) [lo, hi] = [Math.min(lo, img.data[ch * n + i]), Math.max(hi, img.data[ch * n + i])];
      if (hi > lo) for (let i = 0; i < n; i++) data[ch * n + i] = clamp01((img.data[ch * n + i] - lo) / (hi - lo));
    }
    return { ...img, data };
  },
  /** PIL's ImageOps.equalize per channel, on bytes (torchvision's equalize). */
  equalize: (img: Image): Image => {
    const n = img.h * img.w;
    const data = new Float32Array(img.data.length);
    for (let ch = 0; ch < img.c; ch++) {
      const bytes = Array.from({ length: n }, (_, i) => toByte(img.data[ch * n + i]));
      const hist = new Array<number>(256).fill(0);
      for (const b of bytes) hist[b]++;
      let last = 255;
      while (last > 0 && hist[last] === 0) last--;
      const step = Math.floor((n - hist[last]) / 255);
      const lut = new Array<number>(256);
      let cum = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        lut[i] = step === 0 ? i : Math.min(255, Math.floor(cum / step));
        cum += hist[i];
      }
      for (let i = 0; i < n; i++) data[ch * n + i] = lut[bytes[i]] / 255;
    }
    return { ...img, data };
  },
  brightness: (img: Image, f: number): Image => blend(img, () => 0, f),
  /** Blends with the mean of the grayscale image. */
  contrast: (img: Image, f: number): Image => {
    const g = gray(img);
    const mean = g.reduce((s, v) => s + v, 0) / g.length;
    return blend(img, () => mean, f);
  },
  /** Saturation: blends with the grayscale image (a no-op on one channel). */
  color: (img: Image, f: number): Image => {
    const g = gray(img);
    return blend(img, (_ch, i) => g[i], f);
  },
  /** Blends with a 3x3 smoothing ([1 1 1; 1 5 1; 1 1 1] / 13) of the interior, border pixels kept (PIL, torchvision). */
  sharpness: (img: Image, f: number): Image => {
    const { c, h, w } = img;
    const n = h * w;
    const smooth = img.data.slice();
    for (let ch = 0; ch < c; ch++) {
      for (let y = 1; y < h - 1; y++) {
        for (let x = 1; x < w - 1; x++) {
          let s = 0;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += img.data[ch * n + (y + dy) * w + x + dx] * (dx === 0 && dy === 0 ? 5 : 1);
          smooth[ch * n + y * w + x] = s / 13;
        }
      }
    }
    return blend(img, (ch, i) => smooth[ch * n + i], f);
  },
};

/**
 * out(x, y) = in(a·x + b·y + c, d·x + e·y + f) at pixel centres (PIL's Image.transform AFFINE),
 * bilinear, `fill` outside the image.
 */
export function affine(img: Image, m: readonly [number, number, number, number, number, number], fill: number): Image {
  const { c, h, w } = img;
  const n = h * w;
  const data = new Float32Array(img.data.length);
  const [a, b, cc, d, e, f] = m;
  const at = (ch: number, yy: number, xx: number) => (xx < 0 || yy < 0 || xx >= w || yy >= h ? fill : img.data[ch * n + yy * w + xx]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = a * (x + 0.5) + b * (y + 0.5) + cc - 0.5;
      const sy = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const [fx, fy] = [sx - x0, sy - y0];
      for (let ch = 0; ch < c; ch++) {
        const v = (1 - fy) * ((1 - fx) * at(ch, y0, x0) + fx * at(ch, y0, x0 + 1)) + fy * ((1 - fx) * at(ch, y0 + 1, x0) + fx * at(ch, y0 + 1, x0 + 1));
        data[ch * n + y * w + x] = v;
      }
    }
  }
  return { ...img, data };
}

// Snap sampling coordinates that are within float error of a pixel centre (e.g. rotation by 90
// degrees), so such a transform moves pixels exactly instead of blending neighbours by 1e-16.
const snap = (v: number): number => (Math.abs(v - Math.round(v)) < 1e-9 ? Math.round(v) : v);

export const geometricOps = {
  /** Counter-clockwise by `degrees` about the image centre (PIL's rotate). */
  rotate: (img: Image, degrees: number, fill: number): Image => {
    const t = (degrees * Math.PI) / 180;
    const [cos, sin] = [snap(Math.cos(t)), snap(Math.sin(t))];
    const [cx, cy] = [img.w / 2, img.h / 2];
    // Inverse map: output point p -> input R(-t) (p - c) + c, y pointing down.
    return affine(img, [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy], fill);
  },
  shearX: (img: Image, factor: number, fill: number): Image => affine(img, [1, factor, 0, 0, 1, 0], fill),
  shearY: (img: Image, factor: number, fill: number): Image => affine(img, [1, 0, 0, factor, 1, 0], fill),
  /** Moves the content left by `pixels` (PIL's translate with a positive offset), as timm. */
  translateX: (img: Image, pixels: number, fill: number): Image => affine(img, [1, 0, pixels, 0, 1, 0], fill),
  translateY: (img: Image, pixels: number, fill: number): Image => affine(img, [1, 0, 0, 0, 1, pixels], fill),
};

// ------------------------------------------------------------------ RandAugment

export interface RandAugmentConfig {
  /** Ops per image (timm: n, default 2). */
  n: number;
  /** Magnitude, 0..mmax (timm: m). */
  m: number;
  /** Std of the per-op magnitude noise (timm: mstd; 0: fixed). */
  mstd: number;
  /** Upper clip of the magnitude (timm: mmax, default 10). */
  mmax: number;
  /** The increasing-severity op variants (timm: inc1). */
  increasing: boolean;
  /** Probability that each drawn op runs (timm's AugmentOp prob for RandAugment: 0.5). */
  p: number;
}

const LEVEL_DENOM = 10;

/**
 * Parses timm's config string: `rand` then `-`-separated sections m<N>, n<N>, mstd<F>, mmax<F>,
 * inc<0|1>, p<F> (e.g. "rand-m9-mstd0.5-inc1"). Unknown sections are errors.
 */
export function parseRandAugment(text: string): RandAugmentConfig {
  const parts = text.trim().split("-");
  if (parts[0] !== "rand") throw new PftError("config", `--aa: only RandAugment ('rand-...', e.g. rand-m9-mstd0.5-inc1) is supported, got '${text}'`);
  const cfg: RandAugmentConfig = { n: 2, m: 9, mstd: 0, mmax: LEVEL_DENOM, increasing: false, p: 0.5 };
  for (const part of parts.slice(1)) {
    const m = /^(mstd|mmax|inc|m|n|p)(\d+(\.\d+)?)$/.exec(part);
    if (!m) throw new PftError("config", `--aa: unknown RandAugment section '${part}' in '${text}' (known: m, n, mstd, mmax, inc, p)`);
    const v = Number(m[2]);
    if (m[1] === "m") cfg.m = v;
    else if (m[1] === "n") cfg.n = v;
    else if (m[1] === "mstd") cfg.mstd = v;
    else if (m[1] === "mmax") cfg.mmax = v;
    else if (m[1] === "p") cfg.p = v;
    else cfg.increasing = v !== 0;
  }
  if (!Number.isInteger(cfg.n) || cfg.n < 1) throw new PftError("config", `--aa: n must be a whole number >= 1, got ${cfg.n}`);
  if (cfg.p > 1) throw new PftError("config", `--aa: p must be in [0, 1], got ${cfg.p}`);
  return cfg;
}

type Op = (img: Image, magnitude: number, rng: Rng, fill: number) => Image;
const signed = (v: number, rng: Rng): number => (rng.next() > 0.5 ? -v : v);
const enhance = (f: (img: Image, v: number) => Image, increasing: boolean): Op =>
  increasing ? (img, m, rng) => f(img, 1 + signed((m / LEVEL_DENOM) * 0.9, rng)) : (img, m) => f(img, (m / LEVEL_DENOM) * 1.8 + 0.1);

/** timm's op set for RandAugment: _RAND_TRANSFORMS, or _RAND_INCREASING_TRANSFORMS with inc1. */
export function randAugmentOps(increasing: boolean): [string, Op][] {
  const posterize: Op = increasing ? (img, m) => colourOps.posterize(img, 4 - Math.floor((m / LEVEL_DENOM) * 4)) : (img, m) => colourOps.posterize(img, Math.floor((m / LEVEL_DENOM) * 4));
  const solarize: Op = increasing ? (img, m) => colourOps.solarize(img, 256 - Math.floor((m / LEVEL_DENOM) * 256)) : (img, m) => colourOps.solarize(img, Math.floor((m / LEVEL_DENOM) * 256));
  const side = (img: Image, axis: "x" | "y") => (axis === "x" ? img.w : img.h);
  return [
    ["AutoContrast", (img) => colourOps.autocontrast(img)],
    ["Equalize", (img) => colourOps.equalize(img)],
    ["Invert", (img) => colourOps.invert(img)],
    ["Rotate", (img, m, rng, fill) => geometricOps.rotate(img, signed((m / LEVEL_DENOM) * 30, rng), fill)],
    [increasing ? "PosterizeIncreasing" : "Posterize", posterize],
    [increasing ? "SolarizeIncreasing" : "Solarize", solarize],
    ["SolarizeAdd", (img, m) => colourOps.solarizeAdd(img, Math.floor((m / LEVEL_DENOM) * 110))],
    [increasing ? "ColorIncreasing" : "Color", enhance(colourOps.color, increasing)],
    [increasing ? "ContrastIncreasing" : "Contrast", enhance(colourOps.contrast, increasing)],
    [increasing ? "BrightnessIncreasing" : "Brightness", enhance(colourOps.brightness, increasing)],
    [increasing ? "SharpnessIncreasing" : "Sharpness", enhance(colourOps.sharpness, increasing)],
    ["ShearX", (img, m, rng, fill) => geometricOps.shearX(img, signed((m / LEVEL_DENOM) * 0.3, rng), fill)],
    ["ShearY", (img, m, rng, fill) => geometricOps.shearY(img, signed((m / LEVEL_DENOM) * 0.3, rng), fill)],
    ["TranslateXRel", (img, m, rng, fill) => geometricOps.translateX(img, signed((m / LEVEL_DENOM) * 0.45, rng) * side(img, "x"), fill)],
    ["TranslateYRel", (img, m, rng, fill) => geometricOps.translateY(img, signed((m / LEVEL_DENOM) * 0.45, rng) * side(img, "y"), fill)],
  ];
}

/** Box–Muller N(mean, std) from the transform's generator. */
const gauss = (rng: Rng, mean: number, std: number): number => mean + std * rng.normal();

/** RandAugment on one image; returns the image and the ops that ran (for tests and logs). */
export function randAugmentImage(img: Image, cfg: RandAugmentConfig, rng: Rng, fill = 0.5): { img: Image; ran: string[] } {
  const ops = randAugmentOps(cfg.increasing);
  const ran: string[] = [];
  let out = img;
  for (let k = 0; k < cfg.n; k++) {
    const [name, op] = ops[rng.int(0, ops.length)];
    if (cfg.p < 1 && rng.next() > cfg.p) continue;
    const m = Math.max(0, Math.min(cfg.mstd > 0 ? gauss(rng, cfg.m, cfg.mstd) : cfg.m, cfg.mmax));
    out = op(out, m, rng, fill);
    ran.push(name);
  }
  return { img: out, ran };
}

/** Splits a [B, C, H, W] float32 batch into images, applies f to each, and stacks them back. */
function perImage(x: Tensor, f: (img: Image, i: number) => Image): Tensor {
  const [b, c, h, w] = x.shape;
  const src = Float32Array.from(x.float().contiguous().toArray());
  const n = c * h * w;
  const out = new Float32Array(src.length);
  for (let i = 0; i < b; i++) out.set(f({ c, h, w, data: src.subarray(i * n, (i + 1) * n) }, i).data, i * n);
  return Tensor.from(out, [b, c, h, w]);
}

/** RandAugment as a batch transform, on [0, 1] images (before normalize). */
export function randAugment(config: string | RandAugmentConfig, fill = 0.5): BatchTransform {
  const cfg = typeof config === "string" ? parseRandAugment(config) : config;
  return {
    name: "randAugment",
    apply(b, { rng }) {
      if (b.x.shape.length !== 4) throw new PftError("shape", `randAugment: expected x of shape [B, C, H, W], got [${b.x.shape.join(", ")}]`);
      return { ...b, x: perImage(b.x, (img) => randAugmentImage(img, cfg, rng, fill).img) };
    },
  };
}

// ------------------------------------------------------------------ RandomErasing

export interface RandomErasingOptions {
  /** Probability of erasing an image (timm's re_prob). */
  p: number;
  minArea?: number;
  maxArea?: number;
  minAspect?: number;
}

/** The box timm's RandomErasing erases in an H x W image, or null when the 10 tries all fail. [top, left, h, w]. */
export function erasingBox(rng: Rng, h: number, w: number, o: Required<RandomErasingOptions>): [number, number, number, number] | null {
  const logAspect = [Math.log(o.minAspect), Math.log(1 / o.minAspect)];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = rng.uniform(o.minArea, o.maxArea) * h * w;
    const aspect = Math.exp(rng.uniform(logAspect[0], logAspect[1]));
    const bh = Math.round(Math.sqrt(target * aspect));
    const bw = Math.round(Math.sqrt(target / aspect));
    if (bw < w && bh < h) return [rng.int(0, h - bh + 1), rng.int(0, w - bw + 1), bh, bw];
  }
  return null;
}

/** timm's RandomErasing (mode 'pixel', one box per image), on normalised images (after normalize). */
export function randomErasing(opts: RandomErasingOptions): BatchTransform {
  const o = { minArea: 0.02, maxArea: 1 / 3, minAspect: 0.3, ...opts };
  if (!(o.p >= 0 && o.p <= 1)) throw new PftError("config", `randomErasing: probability must be in [0, 1], got ${o.p}`);
  if (!(o.minArea > 0 && o.minArea <= o.maxArea && o.maxArea < 1)) throw new PftError("config", `randomErasing: area range must satisfy 0 < min <= max < 1, got [${o.minArea}, ${o.maxArea}]`);
  return {
    name: "randomErasing",
    apply(b, { rng }) {
      if (b.x.shape.length !== 4) throw new PftError("shape", `randomErasing: expected x of shape [B, C, H, W], got [${b.x.shape.join(", ")}]`);
      if (o.p === 0) return b;
      return {
        ...b,
        x: perImage(b.x, (img) => {
          if (rng.next() > o.p) return img;
          const box = erasingBox(rng, img.h, img.w, o);
          if (!box) return img;
          const [top, left, bh, bw] = box;
          const data = img.data.slice();
          const n = img.h * img.w;
          for (let ch = 0; ch < img.c; ch++) for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) data[ch * n + y * img.w + x] = rng.normal();
          return { ...img, data };
        }),
      };
    },
  };
}
