// Pixel-level building blocks of the corruptions, in plain JS on one image at a time: each is a
// port of the NumPy/SciPy/OpenCV/PIL call that Hendrycks' generators use, with that library's
// border rule, so the corruptions keep their original character at 28x28 and 32x32.
//
// An image is float32 planes in [0, 1], channel-major ([C, H, W], the data module's layout).
// Nothing here draws random numbers except through the Rng it is handed.
import type { Rng } from "../data/index.js";

export interface Img {
  c: number;
  h: number;
  w: number;
  /** [c, h, w] row-major, values in [0, 1] (intermediate values may leave the range). */
  d: Float32Array;
}

export const newImg = (c: number, h: number, w: number): Img => ({ c, h, w, d: new Float32Array(c * h * w) });
export const cloneImg = (x: Img): Img => ({ c: x.c, h: x.h, w: x.w, d: x.d.slice() });
export const plane = (x: Img, ch: number): Float32Array => x.d.subarray(ch * x.h * x.w, (ch + 1) * x.h * x.w);

export function clip01(x: Img): Img {
  const d = x.d;
  for (let i = 0; i < d.length; i++) d[i] = d[i] < 0 ? 0 : d[i] > 1 ? 1 : d[i];
  return x;
}

/** Applies fn to every channel plane (fn returns the new plane, same size). */
export function perPlane(x: Img, fn: (p: Float32Array, ch: number) => Float32Array): Img {
  const out = newImg(x.c, x.h, x.w);
  for (let ch = 0; ch < x.c; ch++) out.d.set(fn(plane(x, ch), ch), ch * x.h * x.w);
  return out;
}

/** cv2.COLOR_RGB2GRAY weights (and the identity for one channel): [h*w]. */
export function gray(x: Img): Float32Array {
  const n = x.h * x.w;
  if (x.c === 1) return x.d.slice(0, n);
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = 0.299 * x.d[i] + 0.587 * x.d[n + i] + 0.114 * x.d[2 * n + i];
  return g;
}

// ------------------------------------------------------------------ borders

export type Border = "nearest" | "reflect" | "reflect101" | "constant";

/**
 * An index outside [0, n) mapped inside: "nearest" repeats the edge (aaa|abcd|ddd), "reflect" is
 * SciPy's half-sample mirror (cba|abcd|dcb), "reflect101" OpenCV's default (dcb|abcd|cba).
 * "constant" returns -1 (the caller reads 0).
 */
export function borderIndex(i: number, n: number, mode: Border): number {
  if (i >= 0 && i < n) return i;
  if (mode === "constant") return -1;
  if (n === 1) return 0;
  if (mode === "nearest") return i < 0 ? 0 : n - 1;
  if (mode === "reflect") {
    const period = 2 * n;
    const k = ((i % period) + period) % period;
    return k < n ? k : period - 1 - k;
  }
  const period = 2 * n - 2;
  const k = ((i % period) + period) % period;
  return k < n ? k : period - k;
}

// ------------------------------------------------------------------ filters

/** scipy.ndimage's Gaussian kernel: radius int(truncate * sigma + 0.5), normalised. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** Separable correlation of one [h, w] plane with a 1-d kernel along x then y. */
export function separable(p: Float32Array, h: number, w: number, k: ArrayLike<number>, mode: Border): Float32Array {
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(h * w);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) {
        const xi = borderIndex(x + j, w, mode);
        if (xi >= 0) s += k[j + r] * p[y * w + xi];
      }
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) {
        const yi = borderIndex(y + j, h, mode);
        if (yi >= 0) s += k[j + r] * tmp[yi * w + x];
      }
      out[y * w + x] = s;
    }
  }
  return out;
}

/** skimage.filters.gaussian of one plane (mode "nearest", truncate 4 by default); sigma 0 copies. */
export function gaussianPlane(p: Float32Array, h: number, w: number, sigma: number, mode: Border = "nearest", truncate = 4): Float32Array {
  if (!(sigma > 0)) return p.slice();
  return separable(p, h, w, gaussianKernel1d(sigma, truncate), mode);
}

export function gaussianImg(x: Img, sigma: number, mode: Border = "nearest"): Img {
  return perPlane(x, (p) => gaussianPlane(p, x.h, x.w, sigma, mode));
}

/** cv2.filter2D (correlation, anchor at the centre, BORDER_REFLECT_101) of one plane with a square kernel. */
export function filter2d(p: Float32Array, h: number, w: number, k: Float64Array, size: number): Float32Array {
  const r = (size - 1) / 2;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let ky = 0; ky < size; ky++) {
        const yi = borderIndex(y + ky - r, h, "reflect101");
        for (let kx = 0; kx < size; kx++) {
          const v = k[ky * size + kx];
          if (v !== 0) s += v * p[yi * w + borderIndex(x + kx - r, w, "reflect101")];
        }
      }
      out[y * w + x] = s;
    }
  }
  return out;
}

/**
 * Hendrycks' disk(): an aliased disk of the radius on a 17x17 grid (radius <= 8), normalised, then
 * cv2.GaussianBlur 3x3 with sigma alias_blur. Returned trimmed to its non-zero support (exact).
 */
export function diskKernel(radius: number, aliasBlur: number): { k: Float64Array; size: number } {
  const R = radius <= 8 ? 8 : Math.ceil(radius);
  const n = 2 * R + 1;
  const disk = new Float64Array(n * n);
  let s = 0;
  for (let y = -R; y <= R; y++) for (let x = -R; x <= R; x++) if (x * x + y * y <= radius * radius) s += disk[(y + R) * n + x + R] = 1;
  for (let i = 0; i < disk.length; i++) disk[i] /= s;
  // cv2.GaussianBlur, ksize 3 (5 for radius > 8), BORDER_REFLECT_101
  const ks = radius <= 8 ? 3 : 5;
  const g = new Float64Array(ks);
  let gs = 0;
  for (let i = 0; i < ks; i++) gs += g[i] = Math.exp(-((i - (ks - 1) / 2) ** 2) / (2 * aliasBlur * aliasBlur));
  for (let i = 0; i < ks; i++) g[i] /= gs;
  const blurred = Float32Array.from(separable(Float32Array.from(disk), n, n, g, "reflect101"));
  // trim rows/columns that are zero everywhere (the kernel is symmetric about its centre)
  let t = 0;
  const rowZero = (r: number) => blurred.subarray(r * n, (r + 1) * n).every((v) => v === 0);
  while (t < R && rowZero(t) && rowZero(n - 1 - t)) t++;
  const size = n - 2 * t;
  const k = new Float64Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) k[y * size + x] = blurred[(y + t) * n + x + t];
  return { k, size };
}

/**
 * Motion blur as ImageMagick's MotionBlurImage (and the NumPy port in the imagenet-c package):
 * a one-sided line kernel of 2*radius+1 taps with Gaussian weights exp(-i²/2σ²), along `angle`
 * degrees, edge pixels repeated.
 */
export function motionBlurPlane(p: Float32Array, h: number, w: number, radius: number, sigma: number, angle: number): Float32Array {
  const width = 2 * radius + 1;
  const k = new Float64Array(width);
  let s = 0;
  for (let i = 0; i < width; i++) s += k[i] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const a = (angle * Math.PI) / 180;
  const py = width * Math.sin(a);
  const px = width * Math.cos(a);
  const hyp = Math.hypot(px, py);
  const out = new Float32Array(h * w);
  for (let i = 0; i < width; i++) {
    const dy = Math.ceil((i * py) / hyp - 0.5);
    const dx = Math.ceil((i * px) / hyp - 0.5);
    if (Math.abs(dy) >= h || Math.abs(dx) >= w) break;
    const wi = k[i] / s;
    for (let y = 0; y < h; y++) {
      const yy = borderIndex(y + dy, h, "nearest");
      for (let x = 0; x < w; x++) out[y * w + x] += wi * p[yy * w + borderIndex(x + dx, w, "nearest")];
    }
  }
  return out;
}

// ------------------------------------------------------------------ geometry

/** Bilinear read at real coordinates (y, x) with the given border rule. */
export function bilinear(p: Float32Array, h: number, w: number, y: number, x: number, mode: Border): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const at = (yy: number, xx: number) => {
    const yi = borderIndex(yy, h, mode);
    const xi = borderIndex(xx, w, mode);
    return yi < 0 || xi < 0 ? 0 : p[yi * w + xi];
  };
  return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
}

/**
 * scipy.ndimage.zoom(order=1) of a [h, w] plane to round(h*z) x round(w*z): corners aligned,
 * input coordinate = output index * (in - 1) / (out - 1).
 */
export function zoomPlane(p: Float32Array, h: number, w: number, z: number): { p: Float32Array; h: number; w: number } {
  const oh = Math.round(h * z);
  const ow = Math.round(w * z);
  const sy = oh > 1 ? (h - 1) / (oh - 1) : 0;
  const sx = ow > 1 ? (w - 1) / (ow - 1) : 0;
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[y * ow + x] = bilinear(p, h, w, y * sy, x * sx, "nearest");
  return { p: out, h: oh, w: ow };
}

/** Hendrycks' clipped_zoom: zoom the centre ceil(h/z) crop by z and trim back to h x w. */
export function clippedZoomPlane(p: Float32Array, h: number, w: number, z: number): Float32Array {
  const ch = Math.ceil(h / z);
  const cw = Math.ceil(w / z);
  const top = Math.floor((h - ch) / 2);
  const left = Math.floor((w - cw) / 2);
  const crop = new Float32Array(ch * cw);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = p[(top + y) * w + left + x];
  const zz = zoomPlane(crop, ch, cw, z);
  const ty = Math.floor((zz.h - h) / 2);
  const tx = Math.floor((zz.w - w) / 2);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = zz.p[(ty + y) * zz.w + tx + x];
  return out;
}

/** PIL's BOX resampling of one plane (Image.resize(..., Image.BOX)), in float. */
export function boxResizePlane(p: Float32Array, h: number, w: number, oh: number, ow: number): Float32Array {
  const coeffs = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const filterscale = Math.max(scale, 1);
    const support = 0.5 * filterscale;
    const rows: { start: number; w: number[] }[] = [];
    for (let o = 0; o < outSize; o++) {
      const center = (o + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      const ws: number[] = [];
      let total = 0;
      for (let i = xmin; i < xmax; i++) {
        const u = (i - center + 0.5) / filterscale;
        const v = u > -0.5 && u <= 0.5 ? 1 : 0;
        ws.push(v);
        total += v;
      }
      rows.push({ start: xmin, w: ws.map((v) => (total ? v / total : 0)) });
    }
    return rows;
  };
  const cx = coeffs(w, ow);
  const cy = coeffs(h, oh);
  const tmp = new Float32Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const { start, w: ws } = cx[x];
      let s = 0;
      for (let j = 0; j < ws.length; j++) s += ws[j] * p[y * w + start + j];
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const { start, w: ws } = cy[y];
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < ws.length; j++) s += ws[j] * tmp[(start + j) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** cv2.getAffineTransform: the 2x3 matrix taking three source points to three destination points. */
export function affineFromPoints(src: [number, number][], dst: [number, number][]): number[] {
  // Solve [x y 1] * [a b c; d e f]^T = [u v] for the three pairs (Cramer's rule on the 3x3 system).
  const [[x0, y0], [x1, y1], [x2, y2]] = src;
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  const solve = (t0: number, t1: number, t2: number): [number, number, number] => [
    (t0 * (y1 - y2) - y0 * (t1 - t2) + (t1 * y2 - t2 * y1)) / det,
    (x0 * (t1 - t2) - t0 * (x1 - x2) + (x1 * t2 - x2 * t1)) / det,
    (x0 * (y1 * t2 - y2 * t1) - y0 * (x1 * t2 - x2 * t1) + t0 * (x1 * y2 - x2 * y1)) / det,
  ];
  return [...solve(dst[0][0], dst[1][0], dst[2][0]), ...solve(dst[0][1], dst[1][1], dst[2][1])];
}

/** cv2.warpAffine(src, M, (w, h), INTER_LINEAR, BORDER_REFLECT_101) of one plane: dst(p) = src(M⁻¹ p). */
export function warpAffinePlane(p: Float32Array, h: number, w: number, m: number[]): Float32Array {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = x - c;
      const v = y - f;
      out[y * w + x] = bilinear(p, h, w, id * u + ie * v, ia * u + ib * v, "reflect101");
    }
  }
  return out;
}

// ------------------------------------------------------------------ colour

/** skimage's rgb2hsv of one pixel: h, s, v in [0, 1]. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const v = Math.max(r, g, b);
  const delta = v - Math.min(r, g, b);
  if (delta === 0) return [0, 0, v];
  const s = delta / v;
  let h: number;
  if (r === v) h = (g - b) / delta;
  else if (g === v) h = 2 + (b - r) / delta;
  else h = 4 + (r - g) / delta;
  h = (h / 6) % 1;
  if (h < 0) h += 1;
  return [h, s, v];
}

/** skimage's hsv2rgb of one pixel. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hi = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (hi) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

// ------------------------------------------------------------------ random fields

/** numpy.random.poisson: Knuth's product method below 10, Hörmann's PTRS (1993) from 10 (as NumPy). */
export function poisson(rng: Rng, lam: number): number {
  if (!(lam > 0)) return 0;
  if (lam < 10) {
    const limit = Math.exp(-lam);
    let k = 0;
    let p = rng.next();
    while (p > limit) {
      k++;
      p *= rng.next();
    }
    return k;
  }
  const slam = Math.sqrt(lam);
  const loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logGamma(k + 1)) return k;
  }
}

/** log Γ(x) for x >= 1 (Stirling series; exact enough for PTRS's acceptance test). */
function logGamma(x: number): number {
  if (x < 7) {
    let p = 1;
    while (x < 7) p *= x++;
    return logGamma(x) - Math.log(p);
  }
  const x2 = 1 / (x * x);
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + (1 / x) * (1 / 12 - x2 * (1 / 360 - x2 * (1 / 1260 - x2 / 1680)));
}

/**
 * Hendrycks' plasma_fractal (diamond-square, from FLHerne/mapgen): a mapsize x mapsize height map
 * in [0, 1]; mapsize a power of two; larger wibbledecay = smoother.
 */
export function plasmaFractal(rng: Rng, mapsize: number, wibbledecay: number): Float32Array {
  const n = mapsize;
  const m = new Float64Array(n * n);
  const at = (y: number, x: number) => ((y % n) + n) % n * n + (((x % n) + n) % n);
  let step = n;
  let wibble = 100;
  const wibbled = (v: number) => v / 4 + wibble * rng.uniform(-wibble, wibble);
  while (step >= 2) {
    const half = step / 2;
    // squares: centre = mean of the four corners + noise
    for (let y = 0; y < n; y += step) {
      for (let x = 0; x < n; x += step) {
        const s = m[at(y, x)] + m[at(y + step, x)] + m[at(y, x + step)] + m[at(y + step, x + step)];
        m[at(y + half, x + half)] = wibbled(s);
      }
    }
    // diamonds: numpy's roll-based formulation, written out per point
    const upd = new Map<number, number>();
    for (let y = 0; y < n; y += step) {
      for (let x = 0; x < n; x += step) {
        // (y, x + half): corners (y, x), (y, x + step); centres (y + half, x + half), (y - half, x + half)
        const lt = m[at(y + half, x + half)] + m[at(y - half, x + half)] + m[at(y, x)] + m[at(y, x + step)];
        // (y + half, x): corners (y, x), (y + step, x); centres (y + half, x + half), (y + half, x - half)
        const tt = m[at(y + half, x + half)] + m[at(y + half, x - half)] + m[at(y, x)] + m[at(y + step, x)];
        upd.set(at(y, x + half), lt);
        upd.set(at(y + half, x), tt);
      }
    }
    for (const [i, s] of upd) m[i] = wibbled(s);
    step = half;
    wibble /= wibbledecay;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of m) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(n * n);
  for (let i = 0; i < m.length; i++) out[i] = hi > lo ? (m[i] - lo) / (hi - lo) : 0;
  return out;
}

/** The smallest power of two >= n. */
export const pow2AtLeast = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(2, n)));
