// The fine-tuned angle (Eq. 2): for each residual unit, the angle between its pretrained and its
// fine-tuned weights, each flattened (all the unit's parameters, its LayerNorm included) into one
// vector. `params: "weights"` takes the unit's weight matrices only (`*.weight` with two or more
// dimensions: Linear and conv kernels), leaving out norms, biases, layer scales and bias tables,
// whose gains can dominate a small unit's squared norm (59-74% on the micro ViT).
//
// Numerics. acos of the cosine loses tiny angles: cos θ = 1 - θ²/2 rounds to 1 below θ ~ 1e-8 rad,
// and at 1e-4 degrees only ~3 digits survive. pft uses Kahan's  θ = 2·atan2(|â - b̂|, |â + b̂|)
// (â = a/|a|, b̂ = b/|b|), which keeps full relative precision for small angles.
//
// One streaming pass usually suffices: with d = a - b (exact for float32 weights), the float64
// sums Σa², Σb², Σd·b, Σd² give
//   |a - r·b|² = Σd² + 2(1 - r)·Σd·b + (1 - r)²·Σb²,   r = |a|/|b|,
//   |â - b̂|² = |a - r·b|² / |a|²,   |â + b̂|² = 4 - |â - b̂|²,
// whose first-order sensitivity to r vanishes at r = |a|/|b|. The terms cancel, though, when the
// norm changes much more than the direction (relative norm change δ ≫ θ): the result keeps
// ~16 - log10(κ) digits, κ = Σ|terms| / result ≈ 1 + δ²/θ² (and |â + b̂|² = 4 - |â - b̂|² cancels
// near 180 degrees). When κ > 1e3, a second pass over the unit sums (a_i/|a| ∓ b_i/|b|)² directly,
// which is accurate for any norms and angles. Fine-tuning moves norms and directions together, so
// the second pass is rare. Sums are blocked, with Neumaier compensation across blocks. Only one
// tensor per checkpoint is in memory at a time.
import { PftError } from "../errors.js";
import { buildCatalog, detectArch, type Catalog, type ResidualUnit } from "../models/index.js";
import { naturalCompare } from "../models/catalog.js";
import { openWeights, type WeightSource } from "./weights.js";
import type { ReadOptions } from "../nn/index.js";

export type Vector = ArrayLike<number>;

export interface UnitAngle {
  /** Unit name, e.g. "blocks.3.attn". */
  name: string;
  kind: ResidualUnit["kind"];
  stage: number;
  index: number;
  /** Scalar parameters the angle is over (the whole unit's with angleParams "all"). */
  params: number;
  /** The fine-tuned angle in degrees. */
  angle: number;
}

export interface AngleReport {
  arch: string;
  /** The fine-tuned checkpoint's catalog (its head decides the class count). */
  catalog: Catalog;
  /** One entry per unit, in catalog order. */
  units: UnitAngle[];
  /** Which parameters the angles are over (absent in reports made before the option: all). */
  angleParams?: AngleParams;
}

/** Which of a unit's parameters its angle is over: all of them (the paper's Eq. 2, the default) or its weight matrices. */
export type AngleParams = "all" | "weights";
export const ANGLE_PARAMS: readonly AngleParams[] = ["all", "weights"];

export function parseAngleParams(text: string): AngleParams {
  const t = text.trim().toLowerCase();
  if (!(ANGLE_PARAMS as readonly string[]).includes(t)) throw new PftError("argument", `--angle-params takes ${ANGLE_PARAMS.join(" or ")}, got '${text}'`);
  return t as AngleParams;
}

/** A weight matrix: a `weight` with two or more dimensions (a Linear's or a convolution's kernel). */
export const isWeightMatrix = (name: string, shape: readonly number[]): boolean => /(^|\.)weight$/.test(name) && shape.length >= 2;

const BLOCK = 1024;
const DEG = 180 / Math.PI;

/** Neumaier-compensated running sum. */
class Sum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

/** Beyond this cancellation factor the one-pass expansion hands over to the normalised pass. */
const MAX_CONDITION = 1e3;

/** Pass 1: the four sums, and from them the angle, or a verdict that pass 2 is needed. */
export class AngleAccumulator {
  readonly #aa = new Sum();
  readonly #bb = new Sum();
  readonly #db = new Sum();
  readonly #dd = new Sum();
  #n = 0;

  /** One piece of each vector (equal lengths). */
  add(a: Vector, b: Vector): void {
    if (a.length !== b.length) throw new PftError("argument", `angle: pieces of different lengths (${a.length} and ${b.length})`);
    for (let i = 0; i < a.length; i += BLOCK) {
      const end = Math.min(a.length, i + BLOCK);
      let aa = 0, bb = 0, db = 0, dd = 0;
      let aa1 = 0, bb1 = 0, db1 = 0, dd1 = 0;
      let j = i;
      for (; j + 1 < end; j += 2) {
        const x = a[j], y = b[j], d = x - y;
        const x1 = a[j + 1], y1 = b[j + 1], d1 = x1 - y1;
        aa += x * x; bb += y * y; db += d * y; dd += d * d;
        aa1 += x1 * x1; bb1 += y1 * y1; db1 += d1 * y1; dd1 += d1 * d1;
      }
      if (j < end) {
        const x = a[j], y = b[j], d = x - y;
        aa += x * x; bb += y * y; db += d * y; dd += d * d;
      }
      this.#aa.add(aa + aa1);
      this.#bb.add(bb + bb1);
      this.#db.add(db + db1);
      this.#dd.add(dd + dd1);
    }
    this.#n += a.length;
  }

  /** The norms |a|, |b|, checked: a zero or non-finite norm is PftError("numeric"). */
  norms(what = "vector", sides: [string, string] = ["first", "second"]): [number, number] {
    const out = [this.#aa.value, this.#bb.value].map((s, i) => {
      if (!Number.isFinite(s)) throw new PftError("numeric", `${what}: the ${sides[i]} weights are not finite (NaN or Inf), so the angle is undefined`);
      if (s === 0) throw new PftError("numeric", `${what}: the ${sides[i]} weights are all zero${this.#n === 0 ? " (it has no weights)" : ""}, so the angle is undefined`);
      return Math.sqrt(s);
    });
    return [out[0], out[1]];
  }

  /** The angle in radians from the one-pass expansion, or null when it cancels too much (then use NormalizedPass). */
  radians(what = "vector", sides: [string, string] = ["first", "second"]): number | null {
    const [na, nb] = this.norms(what, sides);
    const r = na / nb;
    const t1 = this.#dd.value;
    const t2 = 2 * (1 - r) * this.#db.value;
    const t3 = (1 - r) * (1 - r) * this.#bb.value;
    const f = t1 + t2 + t3;
    const magnitude = t1 + Math.abs(t2) + t3;
    if (magnitude === 0) return 0;
    if (!(f > 0)) return null;
    // |â - b̂|² carries the cancellation κ = magnitude / f; |â + b̂|² = 4 - D amplifies it further
    // near 180 degrees by D / (4 - D).
    const d = f / (na * na);
    const condition = (magnitude / f) * Math.max(1, d / (4 - d));
    if (!(d < 4) || condition > MAX_CONDITION) return null;
    return 2 * Math.atan2(Math.sqrt(d), Math.sqrt(4 - d));
  }
}

/** Pass 2, given the norms: Σ(â_i - b̂_i)² and Σ(â_i + b̂_i)² directly. */
export class NormalizedPass {
  readonly #diff = new Sum();
  readonly #sum = new Sum();
  readonly #ia: number;
  readonly #ib: number;
  constructor(normA: number, normB: number) {
    this.#ia = 1 / normA;
    this.#ib = 1 / normB;
  }
  add(a: Vector, b: Vector): void {
    const ia = this.#ia, ib = this.#ib;
    for (let i = 0; i < a.length; i += BLOCK) {
      const end = Math.min(a.length, i + BLOCK);
      let d = 0, s = 0;
      for (let j = i; j < end; j++) {
        const u = a[j] * ia, v = b[j] * ib;
        d += (u - v) * (u - v);
        s += (u + v) * (u + v);
      }
      this.#diff.add(d);
      this.#sum.add(s);
    }
  }
  radians(): number {
    return 2 * Math.atan2(Math.sqrt(this.#diff.value), Math.sqrt(this.#sum.value));
  }
}

/**
 * The angle in radians between two vectors that `feed` hands over in matching pieces (it calls
 * `add(a_i, b_i)` for each piece, and may be called twice: a second pass is made when the first
 * one cancels too much). `what` and `sides` name the vectors in errors.
 */
export function streamAngle(feed: (add: (a: Vector, b: Vector) => void) => void, what = "vector", sides: [string, string] = ["first", "second"]): number {
  const acc = new AngleAccumulator();
  feed((a, b) => acc.add(a, b));
  const fast = acc.radians(what, sides);
  if (fast !== null) return fast;
  const [na, nb] = acc.norms(what, sides);
  const exact = new NormalizedPass(na, nb);
  feed((a, b) => exact.add(a, b));
  return exact.radians();
}

/**
 * The angle in radians between two vectors given as matching piece lists (piece i of `a` and of
 * `b` have the same length). A zero or non-finite norm is PftError("numeric").
 */
export function vectorAngle(a: readonly Vector[], b: readonly Vector[], what = "vector", sides: [string, string] = ["first", "second"]): number {
  if (a.length !== b.length) throw new PftError("argument", `${what}: the two vectors are split into ${a.length} and ${b.length} pieces`);
  return streamAngle((add) => a.forEach((x, i) => add(x, b[i])), what, sides);
}

/** The angle in degrees, as reported everywhere. */
export const toDegrees = (radians: number): number => radians * DEG;

/**
 * Checks that two checkpoints hold the same parameters: the same names with the same shapes,
 * except the classifier (the "head" role), whose class count legitimately differs between a
 * pretrained and a fine-tuned model. Returns the fine-tuned side's catalog.
 */
export function matchCheckpoints(pre: WeightSource, ft: WeightSource): Catalog {
  const rules = detectArch([...ft.shapes.keys()]);
  const preRules = detectArch([...pre.shapes.keys()]);
  if (rules.arch !== preRules.arch) {
    throw new PftError("checkpoint", `${pre.path} is a ${preRules.arch} checkpoint but ${ft.path} is a ${rules.arch} one`);
  }
  const catalog = buildCatalog(ft.shapes, rules);
  const preCatalog = buildCatalog(pre.shapes, preRules);
  const heads = new Set([...catalog.others, ...preCatalog.others].filter((o) => o.role === "head").map((o) => o.name));
  const keys = [...new Set([...pre.shapes.keys(), ...ft.shapes.keys()])].filter((k) => !heads.has(k)).sort(naturalCompare);
  for (const k of keys) {
    const a = pre.shapes.get(k);
    const b = ft.shapes.get(k);
    if (!a || !b) {
      const [has, lacks] = a ? [pre.path, ft.path] : [ft.path, pre.path];
      throw new PftError("checkpoint", `mismatched checkpoints: parameter '${k}' is in ${has} but not in ${lacks}`);
    }
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      throw new PftError("checkpoint", `mismatched checkpoints: parameter '${k}' has shape [${a.join(", ")}] in ${pre.path} but [${b.join(", ")}] in ${ft.path}`);
    }
  }
  return catalog;
}

/** The fine-tuned angle of every unit, from two open checkpoints (streamed, one tensor at a time). */
export function anglesOf(pre: WeightSource, ft: WeightSource, opts: { params?: AngleParams } = {}): AngleReport {
  const which = opts.params ?? "all";
  const catalog = matchCheckpoints(pre, ft);
  const units = catalog.units.map((u) => {
    const names = which === "all" ? u.params : u.params.filter((p) => isWeightMatrix(p, ft.shapes.get(p)!));
    if (names.length === 0) throw new PftError("checkpoint", `unit '${u.name}' has no weight matrix to take an angle over (--angle-params weights)`);
    const numel = which === "all" ? u.numel : names.reduce((s, p) => s + ft.shapes.get(p)!.reduce((a, b) => a * b, 1), 0);
    const rad = streamAngle(
      (add) => {
        for (const p of names) add(pre.view(p), ft.view(p));
      },
      `unit '${u.name}'`,
      [`pretrained (${pre.path})`, `fine-tuned (${ft.path})`],
    );
    return { name: u.name, kind: u.kind, stage: u.stage, index: u.index, params: numel, angle: toDegrees(rad) };
  });
  return { arch: catalog.arch, catalog, units, angleParams: which };
}

/** The fine-tuned angle of every unit between a pretrained and a fine-tuned checkpoint (paths). */
export function computeAngles(pretrained: string, finetuned: string, options: ReadOptions & { params?: AngleParams } = {}): AngleReport {
  const { params, ...read } = options;
  using pre = openWeights(pretrained, read);
  using ft = openWeights(finetuned, read);
  const report = anglesOf(pre, ft, { params });
  pre.checkUnread();
  ft.checkUnread();
  return report;
}

/** Unit name -> angle in degrees. */
export function angleMap(report: { units: readonly UnitAngle[] }): Map<string, number> {
  return new Map(report.units.map((u) => [u.name, u.angle]));
}
