// The ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019) for small images: the 15 standard
// types that mCE averages, and the 4 extra ones (gaussian_blur, speckle_noise, spatter, saturate)
// that SSF's and Hendrycks' code evaluate but leave out of the mean. 5 severities each.
//
// Parameters are those of Hendrycks' own small-image generator (make_cifar_c.py, CIFAR-10-C, 32x32),
// with every length in pixels (blur radii and sigmas, shuffle distance, motion-blur length,
// elastic displacement) scaled by side / 32, so 28x28 (MNIST) and upscaled 8x8 digits get the
// corruption CIFAR-10-C gives a 32x32 image. Where a severity ladder of make_cifar_c.py does not
// grow monotonically on these images, or a file or library is missing (frost photographs, Wand,
// Canny), docs/robustness.md says what replaced it.
//
// Determinism: image i of corruption k draws from Rng.at(seed, 0x1c, k, i) with i its index in the
// source split, at every severity (common random numbers: severities differ in parameters only),
// so a subset of the test split gets exactly the pixels the full benchmark gives those images, on
// every machine (plain JS float math, no libtorch).
import jpeg from "jpeg-js";
import { PftError } from "../errors.js";
import { F, Tensor, scope } from "../engine/index.js";
import { Rng, imageDataset, imageSize, type ImageDataset } from "../data/index.js";
import {
  affineFromPoints,
  bilinear,
  boxResizePlane,
  clip01,
  clippedZoomPlane,
  cloneImg,
  diskKernel,
  filter2d,
  gaussianImg,
  gaussianPlane,
  gray,
  hsvToRgb,
  motionBlurPlane,
  newImg,
  perPlane,
  plane,
  plasmaFractal,
  poisson,
  pow2AtLeast,
  rgbToHsv,
  warpAffinePlane,
  type Img,
} from "./pixels.js";
import { FROST_TINT, frostTexture } from "./textures.js";

export type CorruptionName =
  | "gaussian_noise"
  | "shot_noise"
  | "impulse_noise"
  | "defocus_blur"
  | "glass_blur"
  | "motion_blur"
  | "zoom_blur"
  | "snow"
  | "frost"
  | "fog"
  | "brightness"
  | "contrast"
  | "elastic_transform"
  | "pixelate"
  | "jpeg_compression"
  | "gaussian_blur"
  | "speckle_noise"
  | "spatter"
  | "saturate";

export type CorruptionFamily = "noise" | "blur" | "weather" | "digital";

export interface CorruptionInfo {
  name: CorruptionName;
  family: CorruptionFamily;
  /** One of the 4 extra types: evaluated, but never part of mCE. */
  extra: boolean;
  /** Acts on colour only (saturate is the identity on greyscale): skipped for 1-channel data. */
  colourOnly: boolean;
}

/** All 19, in a fixed order (the index seeds the draws: append, never reorder). The 15 standard ones come first, in Hendrycks' order. */
export const CORRUPTIONS: readonly CorruptionInfo[] = [
  { name: "gaussian_noise", family: "noise", extra: false, colourOnly: false },
  { name: "shot_noise", family: "noise", extra: false, colourOnly: false },
  { name: "impulse_noise", family: "noise", extra: false, colourOnly: false },
  { name: "defocus_blur", family: "blur", extra: false, colourOnly: false },
  { name: "glass_blur", family: "blur", extra: false, colourOnly: false },
  { name: "motion_blur", family: "blur", extra: false, colourOnly: false },
  { name: "zoom_blur", family: "blur", extra: false, colourOnly: false },
  { name: "snow", family: "weather", extra: false, colourOnly: false },
  { name: "frost", family: "weather", extra: false, colourOnly: false },
  { name: "fog", family: "weather", extra: false, colourOnly: false },
  { name: "brightness", family: "weather", extra: false, colourOnly: false },
  { name: "contrast", family: "digital", extra: false, colourOnly: false },
  { name: "elastic_transform", family: "digital", extra: false, colourOnly: false },
  { name: "pixelate", family: "digital", extra: false, colourOnly: false },
  { name: "jpeg_compression", family: "digital", extra: false, colourOnly: false },
  { name: "gaussian_blur", family: "blur", extra: true, colourOnly: false },
  { name: "speckle_noise", family: "noise", extra: true, colourOnly: false },
  { name: "spatter", family: "weather", extra: true, colourOnly: false },
  { name: "saturate", family: "digital", extra: true, colourOnly: true },
];

/** The 15 types mCE averages over. */
export const STANDARD_CORRUPTIONS: readonly CorruptionName[] = CORRUPTIONS.filter((c) => !c.extra).map((c) => c.name);
/** The 4 extra types (excluded from mCE). */
export const EXTRA_CORRUPTIONS: readonly CorruptionName[] = CORRUPTIONS.filter((c) => c.extra).map((c) => c.name);
export const SEVERITIES: readonly number[] = [1, 2, 3, 4, 5];

/** Below this side, images are upscaled (to the model's input size) before being corrupted. */
export const MIN_CORRUPTION_SIDE = 16;

/** Stream tag of the corruption draws (see deriveSeed in src/data). */
const CORRUPTION_STREAM = 0x1c;

export function corruptionInfo(name: string): CorruptionInfo {
  const info = CORRUPTIONS.find((c) => c.name === name);
  if (!info) throw new PftError("config", `unknown corruption '${name}' (known: ${CORRUPTIONS.map((c) => c.name).join(", ")})`);
  return info;
}

/** The corruptions that apply to images with this many channels (saturate needs colour); extras when asked. */
export function corruptionsFor(channels: number, opts: { extras?: boolean } = {}): CorruptionName[] {
  return CORRUPTIONS.filter((c) => (opts.extras || !c.extra) && (channels === 3 || !c.colourOnly)).map((c) => c.name);
}

function checkSeverity(severity: number): void {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) throw new PftError("argument", `severity must be 1..5, got ${severity}`);
}

// ------------------------------------------------------------------ the corruptions
//
// Each takes the clean image in [0, 1], the severity's parameters, the image's Rng and the scale
// s = side / 32 for lengths in pixels, and returns the corrupted image (clipped to [0, 1]).

type Corrupt = (x: Img, sev: number, rng: Rng, s: number) => Img;

const pick = <T>(table: readonly T[], sev: number): T => table[sev - 1];
/** A length in pixels at this resolution: CIFAR-10-C's value times side / 32. */
const px = (v: number, s: number) => v * s;
/** A whole number of pixels, at least `min`. */
const ipx = (v: number, s: number, min = 1) => Math.max(min, Math.round(v * s));

function mapValues(x: Img, fn: (v: number, i: number) => number): Img {
  const out = cloneImg(x);
  for (let i = 0; i < out.d.length; i++) out.d[i] = fn(out.d[i], i);
  return clip01(out);
}

/** The luma of an RGB colour for greyscale images, else the colour itself. */
const colourFor = (c: number, rgb: readonly [number, number, number]): number[] => (c === 3 ? [...rgb] : [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]]);

export const PARAMS = {
  gaussian_noise: [0.04, 0.06, 0.08, 0.09, 0.1],
  shot_noise: [500, 250, 100, 75, 50],
  impulse_noise: [0.01, 0.02, 0.03, 0.05, 0.07],
  /** [disk radius, alias blur] in pixels at 32x32 */
  defocus_blur: [[0.3, 0.4], [0.4, 0.5], [0.5, 0.6], [1, 0.2], [1.5, 0.1]],
  /** [sigma, max shuffle distance, iterations]; CIFAR-10-C: (.05,1,1) (.25,1,1) (.4,1,1) (.25,1,2) (.4,1,2) */
  glass_blur: [[0.05, 1, 1], [0.25, 1, 2], [0.4, 1, 3], [0.4, 1, 4], [0.4, 1, 5]],
  /** [radius, sigma]; CIFAR-10-C's severity 4 is (8, 2), the same blur as 3 (the Gaussian weights beyond 6 px are ~0) */
  motion_blur: [[6, 1], [6, 1.5], [6, 2], [8, 2.25], [9, 2.5]],
  /** the largest zoom factor; factors run from 1 in steps of 0.01 */
  zoom_blur: [1.05, 1.1, 1.15, 1.2, 1.25],
  /** [loc, scale, zoom, threshold, blur radius, blur sigma, mix] */
  snow: [[0.1, 0.2, 1, 0.6, 8, 3, 0.95], [0.1, 0.2, 1, 0.5, 10, 4, 0.9], [0.15, 0.3, 1.75, 0.55, 10, 4, 0.9], [0.25, 0.3, 2.25, 0.6, 12, 6, 0.85], [0.3, 0.3, 1.25, 0.65, 14, 12, 0.8]],
  /**
   * frost weight m of the blend (1 - m) x + m F. CIFAR-10-C blends a x + b F with
   * (a, b) = (1,.2) (1,.3) (.9,.4) (.85,.4) (.75,.45): its falling a and rising b cancel on
   * mid-grey pixels, so the change is not monotone in severity; the convex blend is, pixel by pixel.
   */
  frost: [0.2, 0.3, 0.4, 0.45, 0.5],
  /** [fog strength, wibble decay] */
  fog: [[0.2, 3], [0.5, 3], [0.75, 2.5], [1, 2], [1.5, 1.75]],
  brightness: [0.05, 0.1, 0.15, 0.2, 0.3],
  contrast: [0.75, 0.5, 0.4, 0.3, 0.15],
  /**
   * [alpha, sigma, affine jitter] as fractions of the side (make_cifar_c.py's IMSIZE multiples);
   * the jitter ladder is CIFAR-10-C's reversed (.08 .07 .06 .05 .03 there), so both parts grow.
   */
  elastic_transform: [[0, 0, 0.03], [0.05, 0.2, 0.05], [0.08, 0.06, 0.06], [0.1, 0.04, 0.07], [0.1, 0.03, 0.08]],
  pixelate: [0.95, 0.9, 0.85, 0.75, 0.65],
  jpeg_compression: [80, 65, 58, 50, 40],
  gaussian_blur: [0.4, 0.6, 0.7, 0.8, 1],
  speckle_noise: [0.06, 0.1, 0.12, 0.16, 0.2],
  /** [loc, scale, sigma, threshold, intensity or mud blur, mud?] */
  spatter: [[0.62, 0.1, 0.7, 0.7, 0.5, 0], [0.65, 0.1, 0.8, 0.7, 0.5, 0], [0.65, 0.3, 1, 0.69, 0.5, 0], [0.65, 0.1, 0.7, 0.69, 0.6, 1], [0.65, 0.1, 0.5, 0.68, 0.6, 1]],
  /** [saturation factor, offset] */
  saturate: [[0.3, 0], [0.1, 0], [1.5, 0], [2, 0.1], [2.5, 0.2]],
} as const satisfies Record<CorruptionName, readonly unknown[]>;

const gaussianNoise: Corrupt = (x, sev, rng) => {
  const c = pick(PARAMS.gaussian_noise, sev);
  return mapValues(x, (v) => v + c * rng.normal());
};

const shotNoise: Corrupt = (x, sev, rng) => {
  const c = pick(PARAMS.shot_noise, sev);
  return mapValues(x, (v) => poisson(rng, v * c) / c);
};

/** skimage.util.random_noise(mode="s&p"): each value independently becomes 0 or 1 with probability `amount`. */
const impulseNoise: Corrupt = (x, sev, rng) => {
  const amount = pick(PARAMS.impulse_noise, sev);
  return mapValues(x, (v) => (rng.bernoulli(amount) ? (rng.bernoulli(0.5) ? 1 : 0) : v));
};

const speckleNoise: Corrupt = (x, sev, rng) => {
  const c = pick(PARAMS.speckle_noise, sev);
  return mapValues(x, (v) => v + v * c * rng.normal());
};

const defocusBlur: Corrupt = (x, sev, _rng, s) => {
  const [radius, alias] = pick(PARAMS.defocus_blur, sev);
  // The disk is rasterised (radius < 1: one pixel, 1: a plus, 1.5: a 3x3 square), so its radius
  // stays in CIFAR-10-C's pixels: scaled to 28/32, radius 1 would be a single pixel (the identity).
  const { k, size } = diskKernel(radius, px(alias, s));
  return clip01(perPlane(x, (p) => filter2d(p, x.h, x.w, k, size)));
};

const glassBlur: Corrupt = (x, sev, rng, s) => {
  const [sigma0, delta0, iterations] = pick(PARAMS.glass_blur, sev);
  const sigma = px(sigma0, s);
  const delta = ipx(delta0, s);
  // np.uint8(gaussian(x) * 255): truncated to whole grey levels before the shuffle
  const q = gaussianImg(x, sigma);
  for (let i = 0; i < q.d.length; i++) q.d[i] = Math.min(255, Math.max(0, Math.floor(q.d[i] * 255)));
  const { c, h, w } = q;
  const n = h * w;
  for (let it = 0; it < iterations; it++) {
    for (let y = h - delta; y > delta; y--) {
      for (let xx = w - delta; xx > delta; xx--) {
        const dx = rng.int(-delta, delta);
        const dy = rng.int(-delta, delta);
        const a = y * w + xx;
        const b = (y + dy) * w + xx + dx;
        for (let ch = 0; ch < c; ch++) {
          const t = q.d[ch * n + a];
          q.d[ch * n + a] = q.d[ch * n + b];
          q.d[ch * n + b] = t;
        }
      }
    }
  }
  for (let i = 0; i < q.d.length; i++) q.d[i] /= 255;
  return clip01(gaussianImg(q, sigma));
};

const motionBlur: Corrupt = (x, sev, rng, s) => {
  const [radius, sigma] = pick(PARAMS.motion_blur, sev);
  const angle = rng.uniform(-45, 45);
  return clip01(perPlane(x, (p) => motionBlurPlane(p, x.h, x.w, ipx(radius, s), px(sigma, s), angle)));
};

const zoomBlur: Corrupt = (x, sev) => {
  const top = pick(PARAMS.zoom_blur, sev);
  const zooms: number[] = [];
  for (let i = 0; 1 + 0.01 * i <= top + 1e-9; i++) zooms.push(1 + 0.01 * i);
  const out = cloneImg(x);
  for (const z of zooms) {
    for (let ch = 0; ch < x.c; ch++) {
      const zp = clippedZoomPlane(plane(x, ch), x.h, x.w, z);
      const o = plane(out, ch);
      for (let i = 0; i < zp.length; i++) o[i] += zp[i];
    }
  }
  for (let i = 0; i < out.d.length; i++) out.d[i] /= zooms.length + 1;
  return clip01(out);
};

const snow: Corrupt = (x, sev, rng, s) => {
  const [loc, scale, zoom, threshold, radius, sigma, mix] = pick(PARAMS.snow, sev);
  const { h, w } = x;
  let layer: Float32Array = new Float32Array(h * w);
  for (let i = 0; i < layer.length; i++) layer[i] = loc + scale * rng.normal();
  layer = clippedZoomPlane(layer, h, w, zoom);
  // thresholded, clipped and stored as an 8-bit PNG before ImageMagick's motion blur
  for (let i = 0; i < layer.length; i++) layer[i] = layer[i] < threshold ? 0 : Math.floor(Math.min(1, layer[i]) * 255) / 255;
  const angle = rng.uniform(-135, -45);
  layer = motionBlurPlane(layer, h, w, ipx(radius, s), px(sigma, s), angle);
  for (let i = 0; i < layer.length; i++) layer[i] = Math.round(layer[i] * 255) / 255;
  const g = gray(x);
  const out = cloneImg(x);
  const n = h * w;
  for (let ch = 0; ch < x.c; ch++) {
    for (let i = 0; i < n; i++) {
      const v = x.d[ch * n + i];
      const mixed = mix * v + (1 - mix) * Math.max(v, g[i] * 1.5 + 0.5);
      out.d[ch * n + i] = mixed + layer[i] + layer[n - 1 - i]; // + the layer rotated by 180°
    }
  }
  return clip01(out);
};

const frost: Corrupt = (x, sev, rng) => {
  const m = pick(PARAMS.frost, sev);
  const tex = frostTexture(rng, x.h, x.w);
  const tint = colourFor(x.c, FROST_TINT);
  const n = x.h * x.w;
  return mapValues(x, (v, i) => (1 - m) * v + m * tex[i % n] * tint[Math.floor(i / n)]);
};

const fog: Corrupt = (x, sev, rng) => {
  const [strength, decay] = pick(PARAMS.fog, sev);
  const size = pow2AtLeast(Math.max(x.h, x.w));
  const map = plasmaFractal(rng, size, decay);
  let max = 0;
  for (const v of x.d) if (v > max) max = v;
  const n = x.h * x.w;
  return mapValues(x, (v, i) => {
    const p = i % n;
    const f = map[Math.floor(p / x.w) * size + (p % x.w)];
    return ((v + strength * f) * max) / (max + strength);
  });
};

/** HSV value + c (skimage rgb2hsv/hsv2rgb): with hue and saturation kept, RGB scales by v'/v. */
const brightness: Corrupt = (x, sev) => {
  const c = pick(PARAMS.brightness, sev);
  const n = x.h * x.w;
  const out = cloneImg(x);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let ch = 0; ch < x.c; ch++) v = Math.max(v, x.d[ch * n + i]);
    const v2 = Math.min(1, v + c);
    for (let ch = 0; ch < x.c; ch++) out.d[ch * n + i] = v > 0 ? (x.d[ch * n + i] * v2) / v : v2;
  }
  return clip01(out);
};

const contrast: Corrupt = (x, sev) => {
  const c = pick(PARAMS.contrast, sev);
  const n = x.h * x.w;
  const means = Array.from({ length: x.c }, (_, ch) => plane(x, ch).reduce((a, b) => a + b, 0) / n);
  return mapValues(x, (v, i) => {
    const m = means[Math.floor(i / n)];
    return (v - m) * c + m;
  });
};

const elasticTransform: Corrupt = (x, sev, rng) => {
  const { h, w } = x;
  const side = Math.min(h, w);
  const [alpha, sigma, jitter] = pick(PARAMS.elastic_transform, sev).map((v) => v * side);
  // random affine: three points around the centre, each coordinate moved by U(-jitter, jitter)
  const cx = Math.floor(w / 2);
  const cy = Math.floor(h / 2);
  const sq = Math.floor(side / 3);
  const src: [number, number][] = [[cx + sq, cy + sq], [cx + sq, cy - sq], [cx - sq, cy - sq]];
  const dst = src.map(([u, v]) => [u + rng.uniform(-jitter, jitter), v + rng.uniform(-jitter, jitter)] as [number, number]);
  const m = affineFromPoints(src, dst);
  const warped = perPlane(x, (p) => warpAffinePlane(p, h, w, m));
  // smooth random displacement fields (skimage gaussian, mode reflect, truncate 3)
  const field = () => {
    const u = new Float32Array(h * w);
    for (let i = 0; i < u.length; i++) u[i] = rng.uniform(-1, 1);
    const g = gaussianPlane(u, h, w, sigma, "reflect", 3);
    for (let i = 0; i < g.length; i++) g[i] *= alpha;
    return g;
  };
  const dx = field();
  const dy = field();
  return clip01(perPlane(warped, (p) => {
    const out = new Float32Array(h * w);
    for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w; xx++) out[yy * w + xx] = bilinear(p, h, w, yy + dy[yy * w + xx], xx + dx[yy * w + xx], "reflect");
    return out;
  }));
};

const pixelate: Corrupt = (x, sev) => {
  const c = pick(PARAMS.pixelate, sev);
  const oh = Math.max(1, Math.trunc(x.h * c));
  const ow = Math.max(1, Math.trunc(x.w * c));
  return clip01(perPlane(x, (p) => boxResizePlane(boxResizePlane(p, x.h, x.w, oh, ow), oh, ow, x.h, x.w)));
};

/**
 * JPEG round trips by jpeg-js (baseline, 4:4:4) at one quality, many images per encode: each image
 * sits in its own cell of whole 8x8 blocks, padded by repeating its last row and column (what the
 * encoder does at an image's edge), so every block, and the result, is the same as encoding the
 * images one by one; only jpeg-js's per-encode table set-up (~35 ms) is shared. Greyscale is
 * encoded as R = G = B and read back as luma.
 */
export function jpegRoundTrip(xs: readonly Img[], quality: number): Img[] {
  if (xs.length === 0) return [];
  const { c, h, w } = xs[0];
  const ch = Math.ceil(h / 8) * 8;
  const cw = Math.ceil(w / 8) * 8;
  const cols = Math.min(xs.length, 32);
  const rows = Math.ceil(xs.length / cols);
  const W = cols * cw;
  const H = rows * ch;
  const rgba = new Uint8Array(W * H * 4).fill(255);
  const n = h * w;
  xs.forEach((x, k) => {
    if (x.c !== c || x.h !== h || x.w !== w) throw new PftError("shape", "jpegRoundTrip: images of different shapes");
    const oy = Math.floor(k / cols) * ch;
    const ox = (k % cols) * cw;
    for (let y = 0; y < ch; y++) {
      for (let xx = 0; xx < cw; xx++) {
        const i = Math.min(y, h - 1) * w + Math.min(xx, w - 1);
        const o = ((oy + y) * W + ox + xx) * 4;
        for (let q = 0; q < 3; q++) rgba[o + q] = Math.round(Math.min(1, Math.max(0, x.d[(c === 3 ? q : 0) * n + i])) * 255);
      }
    }
  });
  const decoded = jpeg.decode(jpeg.encode({ data: rgba, width: W, height: H }, quality).data, { useTArray: true, formatAsRGBA: true });
  return xs.map((_, k) => {
    const oy = Math.floor(k / cols) * ch;
    const ox = (k % cols) * cw;
    const out = newImg(c, h, w);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const o = ((oy + y) * W + ox + xx) * 4;
        const [r, g, b] = [decoded.data[o], decoded.data[o + 1], decoded.data[o + 2]];
        const i = y * w + xx;
        if (c === 3) {
          out.d[i] = r / 255;
          out.d[n + i] = g / 255;
          out.d[2 * n + i] = b / 255;
        } else out.d[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
      }
    }
    return clip01(out);
  });
}

const jpegCompression: Corrupt = (x, sev) => jpegRoundTrip([x], pick(PARAMS.jpeg_compression, sev))[0];

const gaussianBlur: Corrupt = (x, sev, _rng, s) => clip01(gaussianImg(x, px(pick(PARAMS.gaussian_blur, sev), s)));

/**
 * Spatter: mud (severities 4-5) as in make_cifar_c.py; water drops (1-3) without its Canny /
 * distance-transform / emboss shading (the drop mask itself, normalised, is the highlight).
 */
const spatter: Corrupt = (x, sev, rng, s) => {
  const [loc, scale, sigma, threshold, intensity, mud] = pick(PARAMS.spatter, sev);
  const { h, w } = x;
  const n = h * w;
  const noise = new Float32Array(n);
  for (let i = 0; i < n; i++) noise[i] = loc + scale * rng.normal();
  const liquid = gaussianPlane(noise, h, w, px(sigma, s));
  for (let i = 0; i < n; i++) if (liquid[i] < threshold) liquid[i] = 0;
  if (mud === 0) {
    let max = 0;
    for (const v of liquid) if (v > max) max = v;
    const colour = colourFor(x.c, [175 / 255, 238 / 255, 238 / 255]);
    return mapValues(x, (v, i) => v + (max > 0 ? (liquid[i % n] / max) * intensity : 0) * colour[Math.floor(i / n)]);
  }
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = liquid[i] > threshold ? 1 : 0;
  const m = gaussianPlane(mask, h, w, px(intensity, s));
  for (let i = 0; i < n; i++) if (m[i] < 0.8) m[i] = 0;
  const colour = colourFor(x.c, [63 / 255, 42 / 255, 20 / 255]);
  return mapValues(x, (v, i) => v * (1 - m[i % n]) + colour[Math.floor(i / n)] * m[i % n]);
};

/** HSV saturation * a + b (colour images only; greyscale has no saturation to change). */
const saturate: Corrupt = (x, sev) => {
  if (x.c !== 3) throw new PftError("config", "saturate needs colour images (it is the identity on greyscale)");
  const [a, b] = pick(PARAMS.saturate, sev);
  const n = x.h * x.w;
  const out = cloneImg(x);
  for (let i = 0; i < n; i++) {
    const [hh, ss, vv] = rgbToHsv(x.d[i], x.d[n + i], x.d[2 * n + i]);
    const [r, g, bl] = hsvToRgb(hh, Math.min(1, Math.max(0, ss * a + b)), vv);
    out.d[i] = r;
    out.d[n + i] = g;
    out.d[2 * n + i] = bl;
  }
  return clip01(out);
};

const IMPL: Record<CorruptionName, Corrupt> = {
  gaussian_noise: gaussianNoise,
  shot_noise: shotNoise,
  impulse_noise: impulseNoise,
  defocus_blur: defocusBlur,
  glass_blur: glassBlur,
  motion_blur: motionBlur,
  zoom_blur: zoomBlur,
  snow,
  frost,
  fog,
  brightness,
  contrast,
  elastic_transform: elasticTransform,
  pixelate,
  jpeg_compression: jpegCompression,
  gaussian_blur: gaussianBlur,
  speckle_noise: speckleNoise,
  spatter,
  saturate,
};

// ------------------------------------------------------------------ images and datasets

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/** One uint8 image [C, H, W] corrupted: a new uint8 image of the same shape (values rounded). */
export function corruptImage(pixels: Uint8Array, shape: ImageShape, name: CorruptionName, severity: number, rng: Rng): Uint8Array {
  checkSeverity(severity);
  const { channels: c, height: h, width: w } = shape;
  if (pixels.length !== c * h * w) throw new PftError("shape", `corruptImage: ${pixels.length} bytes for a ${c}x${h}x${w} image`);
  if (c !== 1 && c !== 3) throw new PftError("shape", `corruptions take 1- or 3-channel images, got ${c} channels`);
  const y = IMPL[corruptionInfo(name).name](toImg(pixels, shape), severity, rng, Math.min(h, w) / 32);
  return toBytes(y);
}

const JPEG_BATCH = 256;

function toImg(pixels: Uint8Array, shape: ImageShape): Img {
  const x = newImg(shape.channels, shape.height, shape.width);
  for (let i = 0; i < pixels.length; i++) x.d[i] = pixels[i] / 255;
  return x;
}

/** [0, 1] floats back to uint8, rounded. */
function toBytes(y: Img): Uint8Array {
  const out = new Uint8Array(y.d.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, y.d[i])) * 255);
  return out;
}

/**
 * The generator of image `index` (its index in the source split) for a corruption. The five
 * severities share it (common random numbers): a severity changes the parameters, not the draws.
 */
export function corruptionRng(seed: number, name: CorruptionName, index: number): Rng {
  return Rng.at(seed, CORRUPTION_STREAM, CORRUPTIONS.findIndex((c) => c.name === name), index);
}

export interface CorruptOptions {
  /** Seed of every random draw (default 0). */
  seed?: number;
  /**
   * Source-split index of each image of `ds` (default 0..N-1): pass the indices a subset was
   * taken at, so the subset gets the same corrupted pixels as the full split.
   */
  indices?: ArrayLike<number>;
}

/** The dataset with every image corrupted: deterministic for (seed, name, severity, source index). */
export function corruptDataset(ds: ImageDataset, name: CorruptionName, severity: number, opts: CorruptOptions = {}): ImageDataset {
  checkSeverity(severity);
  const info = corruptionInfo(name);
  if (info.colourOnly && ds.channels !== 3) throw new PftError("config", `${name} needs colour images; ${ds.name} has ${ds.channels} channel(s)`);
  const seed = opts.seed ?? 0;
  const indices = opts.indices;
  if (indices && indices.length !== ds.length) throw new PftError("argument", `corruptDataset: ${indices.length} indices for ${ds.length} images`);
  const per = imageSize(ds);
  const shape = { channels: ds.channels, height: ds.height, width: ds.width };
  const images = new Uint8Array(ds.images.length);
  if (info.name === "jpeg_compression") {
    // deterministic without draws; batched only to share the encoder's set-up (same pixels)
    const quality = pick(PARAMS.jpeg_compression, severity);
    for (let start = 0; start < ds.length; start += JPEG_BATCH) {
      const xs: Img[] = [];
      for (let i = start; i < Math.min(ds.length, start + JPEG_BATCH); i++) xs.push(toImg(ds.images.subarray(i * per, (i + 1) * per), shape));
      jpegRoundTrip(xs, quality).forEach((y, k) => images.set(toBytes(y), (start + k) * per));
    }
  } else {
    for (let i = 0; i < ds.length; i++) {
      const rng = corruptionRng(seed, info.name, indices ? indices[i] : i);
      images.set(corruptImage(ds.images.subarray(i * per, (i + 1) * per), shape, info.name, severity, rng), i * per);
    }
  }
  return imageDataset({ name: `${ds.name}-c/${name}/${severity}`, images, labels: ds.labels, classes: ds.classes, channels: ds.channels, height: ds.height, width: ds.width });
}

/**
 * The dataset resized to size x size (bilinear, align_corners false: the training pipeline's
 * resize), rounded back to uint8. Used to corrupt tiny images (8x8 digits) at the model's size.
 */
export function resizeDataset(ds: ImageDataset, size: number): ImageDataset {
  if (!Number.isInteger(size) || size <= 0) throw new PftError("argument", `resize: size must be a positive integer, got ${size}`);
  if (ds.height === size && ds.width === size) return ds;
  const images = scope(() => {
    const x = Tensor.fromBytes(ds.images, [ds.length, ds.channels, ds.height, ds.width], "uint8").to("float32");
    return F.interpolate(x, [size, size], "bilinear").round().clamp(0, 255).to("uint8").bytes();
  });
  return imageDataset({ name: `${ds.name}@${size}`, images, labels: ds.labels, classes: ds.classes, channels: ds.channels, height: size, width: size });
}
