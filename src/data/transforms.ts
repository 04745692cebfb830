// Batch transforms: each takes a batch {x: float32 [B, C, H, W], y} and returns a new one.
//
// The loader hands the pipeline x in [0, 1] (uint8 / 255) and y as int64 class indices [B].
// Every random choice comes from ctx.rng, which the loader seeds from (seed, epoch, step,
// position in the pipeline): a batch's augmentation is a pure function of where it is, and adding
// a transform does not change the draws of the others. Transforms run inside the loader's scope,
// so their intermediate tensors are freed when the batch is built.
//
// A typical pipeline for a model that wants 3x224x224, ImageNet-normalised input:
//   [toChannels(3), padCrop(), horizontalFlip(), resize(224), normalize(IMAGENET_MEAN, IMAGENET_STD), mixup({...})]
// Crops and flips run at data resolution, before the resize (cheaper, and as torchvision).
import { PftError } from "../errors.js";
import { F, Tensor, cat, where } from "../engine/index.js";
import type { Rng } from "./rng.js";

export interface Batch {
  /** float32 [B, C, H, W]. */
  x: Tensor;
  /** int64 class indices [B]; float32 soft targets [B, K] after mixup/cutmix (cross-entropy with probabilities). */
  y: Tensor;
  /** Dataset index of each sample (set by the loader). */
  indices?: Int32Array;
  /** What mixup/cutmix did to this batch, when it ran. */
  mix?: MixInfo;
}

export interface MixInfo {
  kind: "none" | "mixup" | "cutmix";
  /** Weight of each sample's own image and label; the partner of sample i is sample B-1-i. */
  lam: number;
  /** Cutmix box [top, bottom, left, right) pasted from the partner. */
  box?: [number, number, number, number];
}

export interface TransformContext {
  /** This transform's generator for this batch. */
  rng: Rng;
  epoch: number;
  step: number;
  numClasses: number;
}

export interface BatchTransform {
  readonly name: string;
  apply(batch: Batch, ctx: TransformContext): Batch;
}

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
/** timm's IMAGENET_INCEPTION_MEAN/STD, which the augreg ViT checkpoints expect. */
export const INCEPTION_MEAN: readonly number[] = [0.5, 0.5, 0.5];
export const INCEPTION_STD: readonly number[] = [0.5, 0.5, 0.5];

const dims4 = (x: Tensor, what: string): [number, number, number, number] => {
  const s = x.shape;
  if (s.length !== 4) throw new PftError("shape", `${what}: expected x of shape [B, C, H, W], got [${s.join(", ")}]`);
  return s as [number, number, number, number];
};

const pair = (v: number | readonly [number, number], what: string): [number, number] => {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d > 0)) throw new PftError("config", `${what}: size must be positive integers, got ${String(v)}`);
  return p;
};

/** A per-sample boolean mask [B, 1, 1, 1] from JS booleans. */
const sampleMask = (on: boolean[]): Tensor => Tensor.from(Uint8Array.from(on, Number), [on.length, 1, 1, 1], { dtype: "bool" });

// ------------------------------------------------------------------ deterministic

/** (x - mean) / std per channel; a single value applies to every channel. */
export function normalize(mean: readonly number[], std: readonly number[]): BatchTransform {
  if (mean.length !== std.length) throw new PftError("config", `normalize: ${mean.length} means but ${std.length} stds`);
  if (std.some((s) => !(s > 0))) throw new PftError("config", `normalize: std must be > 0, got [${std.join(", ")}]`);
  return {
    name: "normalize",
    apply(b) {
      const [, c] = dims4(b.x, "normalize");
      if (mean.length !== 1 && mean.length !== c) throw new PftError("shape", `normalize: ${mean.length} channel means for a ${c}-channel batch`);
      const m = Tensor.from(Float32Array.from(mean), [1, mean.length, 1, 1]);
      const s = Tensor.from(Float32Array.from(std), [1, std.length, 1, 1]);
      return { ...b, x: b.x.sub(m).div(s) };
    },
  };
}

/** Bilinear resize to the model's input size (F.interpolate, align_corners false; no antialias). */
export function resize(size: number | readonly [number, number]): BatchTransform {
  const [h, w] = pair(size, "resize");
  return {
    name: "resize",
    apply(b) {
      const [, , bh, bw] = dims4(b.x, "resize");
      return bh === h && bw === w ? b : { ...b, x: F.interpolate(b.x, [h, w], "bilinear") };
    },
  };
}

/** Gray -> RGB by replication, RGB -> gray by luma (0.299, 0.587, 0.114); same count: unchanged. */
export function toChannels(channels: 1 | 3): BatchTransform {
  if (channels !== 1 && channels !== 3) throw new PftError("config", `toChannels: 1 or 3, got ${channels}`);
  return {
    name: "toChannels",
    apply(b) {
      const [n, c, h, w] = dims4(b.x, "toChannels");
      if (c === channels) return b;
      if (c === 1 && channels === 3) return { ...b, x: b.x.expand([n, 3, h, w]).contiguous() };
      if (c === 3 && channels === 1) {
        const luma = Tensor.from(Float32Array.of(0.299, 0.587, 0.114), [1, 3, 1, 1]);
        return { ...b, x: b.x.mul(luma).sum(1, { keepdim: true }) };
      }
      throw new PftError("shape", `toChannels: cannot turn ${c} channels into ${channels}`);
    },
  };
}

// ------------------------------------------------------------------ random, per sample

/** Flips each image left-right with probability p. Opt-in: wrong for digits and text. */
export function horizontalFlip(p = 0.5): BatchTransform {
  return {
    name: "horizontalFlip",
    apply(b, { rng }) {
      const [n] = dims4(b.x, "horizontalFlip");
      const on = Array.from({ length: n }, () => rng.bernoulli(p));
      if (!on.some(Boolean)) return b;
      return { ...b, x: where(sampleMask(on), b.x.flip([3]), b.x) };
    },
  };
}

/** CIFAR-style: pad every side by `padding` with zeros, then crop back to H x W at a random offset. */
export function padCrop(padding = 4): BatchTransform {
  if (!Number.isInteger(padding) || padding < 0) throw new PftError("config", `padCrop: padding must be a non-negative integer, got ${padding}`);
  return {
    name: "padCrop",
    apply(b, { rng }) {
      const [n, , h, w] = dims4(b.x, "padCrop");
      if (padding === 0) return b;
      const padded = b.x.pad([padding, padding, padding, padding], 0);
      const crops: Tensor[] = [];
      for (let i = 0; i < n; i++) {
        const top = rng.int(0, 2 * padding + 1);
        const left = rng.int(0, 2 * padding + 1);
        crops.push(padded.narrow(0, i, 1).narrow(2, top, h).narrow(3, left, w));
      }
      return { ...b, x: cat(crops, 0) };
    },
  };
}

export interface RandomResizedCropOptions {
  /** Output [H, W]; default: the input's size. */
  size?: number | [number, number];
  /**
   * Range of the crop's area as a fraction of the image. torchvision's default (0.08, 1) is meant
   * for 224-px photos; on 8-32 px images 8% is a few pixels, so the default here is (0.25, 1).
   */
  scale?: [number, number];
  /** Range of the crop's aspect ratio w/h (torchvision's default). */
  ratio?: [number, number];
}

/**
 * torchvision's RandomResizedCrop.get_params per sample (10 tries, then a centre crop with the
 * ratio clamped), each crop resized bilinearly to the output size.
 */
export function randomResizedCrop(opts: RandomResizedCropOptions = {}): BatchTransform {
  const scale = opts.scale ?? [0.25, 1];
  const ratio = opts.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new PftError("config", `randomResizedCrop: scale must satisfy 0 < min <= max <= 1, got [${scale.join(", ")}]`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new PftError("config", `randomResizedCrop: ratio must satisfy 0 < min <= max, got [${ratio.join(", ")}]`);
  const out = opts.size === undefined ? null : pair(opts.size, "randomResizedCrop");
  return {
    name: "randomResizedCrop",
    apply(b, { rng }) {
      const [n, , h, w] = dims4(b.x, "randomResizedCrop");
      const [oh, ow] = out ?? [h, w];
      const crops: Tensor[] = [];
      for (let i = 0; i < n; i++) {
        const [top, left, ch, cw] = cropParams(rng, h, w, scale, ratio);
        const crop = b.x.narrow(0, i, 1).narrow(2, top, ch).narrow(3, left, cw);
        crops.push(ch === oh && cw === ow ? crop : F.interpolate(crop, [oh, ow], "bilinear"));
      }
      return { ...b, x: cat(crops, 0) };
    },
  };
}

/** [top, left, height, width] of one random resized crop (torchvision's get_params). */
export function cropParams(rng: Rng, h: number, w: number, scale: [number, number], ratio: [number, number]): [number, number, number, number] {
  const area = h * w;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) return [rng.int(0, h - ch + 1), rng.int(0, w - cw + 1), ch, cw];
  }
  const inRatio = w / h;
  let cw: number;
  let ch: number;
  if (inRatio < ratio[0]) {
    cw = w;
    ch = Math.round(cw / ratio[0]);
  } else if (inRatio > ratio[1]) {
    ch = h;
    cw = Math.round(ch * ratio[1]);
  } else {
    cw = w;
    ch = h;
  }
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

// ------------------------------------------------------------------ mixup / cutmix (batch level)

export interface MixupOptions {
  /** Beta(alpha, alpha) for mixup's lam; 0 disables mixup. timm's Mixup default: 1. */
  mixupAlpha?: number;
  /** Beta(alpha, alpha) for cutmix's lam; 0 disables cutmix. timm's default: 0. */
  cutmixAlpha?: number;
  /** Probability of mixing a batch at all (default 1). */
  prob?: number;
  /** With both enabled, probability of cutmix instead of mixup (default 0.5). */
  switchProb?: number;
  /** Folded into the soft targets: on = 1 - s + s/K, off = s/K (timm's default 0.1). */
  labelSmoothing?: number;
  /** Recompute lam from the clipped cutmix box area (default true, as timm). */
  correctLam?: boolean;
}

/**
 * timm's Mixup in "batch" mode: one lam ~ Beta(alpha, alpha) per batch; sample i is mixed with
 * sample B-1-i (the flipped batch). Mixup: x = lam*x + (1-lam)*x_flipped. Cutmix: a box of
 * area ~(1-lam) from the flipped batch is pasted in, and lam becomes 1 - box area / image area.
 * y becomes float32 soft targets [B, K] = lam*smooth(y) + (1-lam)*smooth(y_flipped), each row
 * summing to 1; label smoothing applies even to batches left unmixed. Put it last.
 */
export function mixup(opts: MixupOptions = {}): BatchTransform {
  const o = { mixupAlpha: 1, cutmixAlpha: 0, prob: 1, switchProb: 0.5, labelSmoothing: 0.1, correctLam: true, ...opts };
  if (!(o.mixupAlpha >= 0 && o.cutmixAlpha >= 0)) throw new PftError("config", `mixup: alphas must be >= 0, got ${o.mixupAlpha}, ${o.cutmixAlpha}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new PftError("config", `mixup: labelSmoothing must be in [0, 1), got ${o.labelSmoothing}`);
  return {
    name: "mixup",
    apply(b, { rng, numClasses }) {
      const [, , h, w] = dims4(b.x, "mixup");
      if (b.y.ndim !== 1) throw new PftError("shape", "mixup: y must be class indices [B] (is mixup in the pipeline twice?)");
      let lam = 1;
      let cutmix = false;
      if ((o.mixupAlpha > 0 || o.cutmixAlpha > 0) && rng.next() < o.prob) {
        if (o.mixupAlpha > 0 && o.cutmixAlpha > 0) {
          cutmix = rng.next() < o.switchProb;
          lam = cutmix ? rng.beta(o.cutmixAlpha, o.cutmixAlpha) : rng.beta(o.mixupAlpha, o.mixupAlpha);
        } else if (o.mixupAlpha > 0) {
          lam = rng.beta(o.mixupAlpha, o.mixupAlpha);
        } else {
          cutmix = true;
          lam = rng.beta(o.cutmixAlpha, o.cutmixAlpha);
        }
      }
      let x = b.x;
      let mix: MixInfo = { kind: "none", lam: 1 };
      if (lam !== 1) {
        const partner = b.x.flip([0]);
        if (cutmix) {
          const box = cutmixBox(rng, h, w, lam);
          if (o.correctLam) lam = 1 - ((box[1] - box[0]) * (box[3] - box[2])) / (h * w);
          x = where(boxMask(h, w, box), partner, b.x);
          mix = { kind: "cutmix", lam, box };
        } else {
          x = b.x.mul(lam).add(partner.mul(1 - lam));
          mix = { kind: "mixup", lam };
        }
      }
      return { ...b, x, y: softTargets(b.y, numClasses, lam, o.labelSmoothing), mix };
    },
  };
}

/** timm's rand_bbox: a box of side ~sqrt(1-lam) centred at a uniform pixel, clipped: [top, bottom, left, right). */
export function cutmixBox(rng: Rng, h: number, w: number, lam: number): [number, number, number, number] {
  const r = Math.sqrt(1 - lam);
  const ch = Math.trunc(h * r);
  const cw = Math.trunc(w * r);
  const cy = rng.int(0, h);
  const cx = rng.int(0, w);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return [clip(cy - (ch >> 1), h), clip(cy + (ch >> 1), h), clip(cx - (cw >> 1), w), clip(cx + (cw >> 1), w)];
}

function boxMask(h: number, w: number, [t, b, l, r]: [number, number, number, number]): Tensor {
  const m = new Uint8Array(h * w);
  for (let y = t; y < b; y++) m.fill(1, y * w + l, y * w + r);
  return Tensor.from(m, [1, 1, h, w], { dtype: "bool" });
}

/** lam * smooth(onehot(y)) + (1 - lam) * smooth(onehot(flip(y))), float32 [B, K] (timm's mixup_target). */
export function softTargets(y: Tensor, numClasses: number, lam: number, smoothing: number): Tensor {
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  const y1 = y.oneHot(numClasses).to("float32").mul(on - off).add(off);
  return lam === 1 ? y1 : y1.mul(lam).add(y1.flip([0]).mul(1 - lam));
}
