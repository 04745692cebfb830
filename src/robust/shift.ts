// Shifted renderings of a target's test images, for out-of-distribution accuracy without a second
// dataset: the same classes drawn differently. Two shifts that a digit or garment classifier meets
// in practice and that no corruption of corruptions.ts makes:
// - "stroke": strokes thickened (radius r > 0: grey-level dilation, the max over a
//   (2r+1)x(2r+1) square) or thinned (r < 0: erosion, the min), per channel;
// - "scale": the image shrunk by a factor in (0, 1) about its centre (bilinear, then padded with
//   the border's mean so the background stays the background).
// Both are deterministic (no randomness), so every model of a study sees the same images.
import { PftError } from "../errors.js";
import { imageDataset, type ImageDataset } from "../data/index.js";

export type ShiftKind = "stroke" | "scale";

export interface ShiftSpec {
  kind: ShiftKind;
  /** stroke: radius in pixels (positive thickens, negative thins); scale: factor in (0, 1). */
  amount: number;
}

/** "stroke:+1", "stroke:-1", "scale:0.7". */
export function parseShift(text: string): ShiftSpec {
  const m = /^(stroke|scale):([+-]?\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m) throw new PftError("config", `unknown shift '${text}' (stroke:R with a whole radius, e.g. stroke:+1, or scale:F with 0 < F < 1, e.g. scale:0.7)`);
  const spec: ShiftSpec = { kind: m[1] as ShiftKind, amount: Number(m[2]) };
  validateShift(spec);
  return spec;
}

export function validateShift(s: ShiftSpec): void {
  if (s.kind === "stroke" && !(Number.isInteger(s.amount) && s.amount !== 0 && Math.abs(s.amount) <= 3)) throw new PftError("config", `stroke shift: the radius must be a whole number in [-3, 3] other than 0, got ${s.amount}`);
  if (s.kind === "scale" && !(s.amount > 0 && s.amount < 1)) throw new PftError("config", `scale shift: the factor must lie in (0, 1), got ${s.amount}`);
}

export const describeShift = (s: ShiftSpec): string =>
  s.kind === "stroke" ? `strokes ${s.amount > 0 ? "thickened" : "thinned"} by ${Math.abs(s.amount)} px (grey-level ${s.amount > 0 ? "dilation" : "erosion"})` : `shrunk to ${Math.round(s.amount * 100)}% about the centre`;

/** The dataset with every image shifted; labels and classes unchanged. */
export function shiftDataset(ds: ImageDataset, s: ShiftSpec): ImageDataset {
  validateShift(s);
  const { channels: c, height: h, width: w } = ds;
  const out = new Uint8Array(ds.images.length);
  const plane = h * w;
  for (let i = 0; i < ds.length * c; i++) {
    const src = ds.images.subarray(i * plane, (i + 1) * plane);
    const dst = out.subarray(i * plane, (i + 1) * plane);
    if (s.kind === "stroke") morph(src, dst, h, w, s.amount);
    else shrink(src, dst, h, w, s.amount);
  }
  const tag = s.kind === "stroke" ? `stroke${s.amount > 0 ? "+" : ""}${s.amount}` : `scale${s.amount}`;
  return imageDataset({ name: `${ds.name}[${tag}]`, images: out, labels: ds.labels, classes: ds.classes, channels: c, height: h, width: w });
}

/** Grey-level dilation (r > 0) or erosion (r < 0) with a (2|r|+1)² square, edges clamped. */
function morph(src: Uint8Array, dst: Uint8Array, h: number, w: number, r: number): void {
  const k = Math.abs(r);
  const dilate = r > 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = dilate ? 0 : 255;
      for (let dy = -k; dy <= k; dy++) {
        const yy = Math.min(h - 1, Math.max(0, y + dy));
        for (let dx = -k; dx <= k; dx++) {
          const p = src[yy * w + Math.min(w - 1, Math.max(0, x + dx))];
          v = dilate ? Math.max(v, p) : Math.min(v, p);
        }
      }
      dst[y * w + x] = v;
    }
  }
}

/** Shrinks by f about the centre: output (x, y) samples the source at centre + (p - centre) / f. */
function shrink(src: Uint8Array, dst: Uint8Array, h: number, w: number, f: number): void {
  let border = 0;
  let nb = 0;
  for (let x = 0; x < w; x++) {
    border += src[x] + src[(h - 1) * w + x];
    nb += 2;
  }
  for (let y = 1; y < h - 1; y++) {
    border += src[y * w] + src[y * w + w - 1];
    nb += 2;
  }
  const bg = border / nb;
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  for (let y = 0; y < h; y++) {
    const sy = cy + (y - cy) / f;
    for (let x = 0; x < w; x++) {
      const sx = cx + (x - cx) / f;
      let v: number;
      if (sy < 0 || sy > h - 1 || sx < 0 || sx > w - 1) v = bg;
      else {
        const y0 = Math.floor(sy), x0 = Math.floor(sx);
        const y1 = Math.min(h - 1, y0 + 1), x1 = Math.min(w - 1, x0 + 1);
        const ty = sy - y0, tx = sx - x0;
        const top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx;
        const bottom = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx;
        v = top * (1 - ty) + bottom * ty;
      }
      dst[y * w + x] = Math.round(v);
    }
  }
}
