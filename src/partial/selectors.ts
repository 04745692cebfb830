// Unit scores other than the fine-tuned angle, for the cheap selectors that the field compares
// FAPFT with at the same budget. Every selector scores each residual unit; selectFapft's
// per-group top-k then picks by the score, so a selector differs from FAPFT only in the score:
// - "angle": the fine-tuned angle (FAPFT itself; angles.ts);
// - "weight-change": ‖W_f − W_p‖ / ‖W_p‖ after the full fine-tune, FAPFT's information as a
//   magnitude instead of a direction;
// - "gradient": ‖ḡ‖ / ‖W_p‖ at the pretrained weights, ḡ the mean gradient over a few batches
//   (Surgical Fine-Tuning's relative gradient norm, Auto-RGN); src/train/gradient-score.ts
//   accumulates the sums;
// - "random": a uniform draw per unit, so the top-k of a group is a uniform random subset (LISA,
//   IST's random baseline).
import { PftError } from "../errors.js";
import type { Catalog } from "../models/index.js";
import { matchCheckpoints } from "./angles.js";
import type { WeightSource } from "./weights.js";

export const SELECTORS = ["angle", "weight-change", "gradient", "random"] as const;
export type SelectorKey = (typeof SELECTORS)[number];

/** Σx² in float64, blocked so the partial sums stay small against the total. */
function sumSquares(v: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < v.length; i += 1024) {
    let s = 0;
    const end = Math.min(v.length, i + 1024);
    for (let j = i; j < end; j++) s += v[j] * v[j];
    total += s;
  }
  return total;
}

/**
 * ‖W_f − W_p‖ / ‖W_p‖ per unit (all the unit's parameters flattened into one vector, as for the
 * angle), from two open checkpoints, one tensor per side in memory at a time.
 */
export function weightChangeOf(pre: WeightSource, ft: WeightSource): Map<string, number> {
  const catalog = matchCheckpoints(pre, ft);
  const out = new Map<string, number>();
  for (const u of catalog.units) {
    let dd = 0;
    let pp = 0;
    for (const p of u.params) {
      const a = pre.read(p);
      const b = ft.view(p);
      pp += sumSquares(a);
      let s = 0;
      for (let i = 0; i < a.length; i++) s += (b[i] - a[i]) ** 2;
      dd += s;
    }
    if (!Number.isFinite(dd) || !Number.isFinite(pp)) throw new PftError("numeric", `unit '${u.name}': weights are not finite (NaN or Inf), so its weight change is undefined`);
    if (pp === 0) throw new PftError("numeric", `unit '${u.name}': the pretrained weights are all zero, so its relative weight change is undefined`);
    out.set(u.name, Math.sqrt(dd / pp));
  }
  return out;
}

/**
 * Per-unit relative gradient norms from per-parameter sums: ‖g_unit‖ / ‖w_unit‖ with
 * ‖g_unit‖² = Σ over the unit's parameters of ‖g_p‖² (likewise for w).
 */
export function relativeGradientScores(catalog: Catalog, gradSq: ReadonlyMap<string, number>, weightSq: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of catalog.units) {
    let g = 0;
    let w = 0;
    for (const p of u.params) {
      const gp = gradSq.get(p);
      const wp = weightSq.get(p);
      if (gp === undefined || wp === undefined) throw new PftError("argument", `gradient score: no ${gp === undefined ? "gradient" : "weight"} norm for parameter '${p}' of unit '${u.name}'`);
      g += gp;
      w += wp;
    }
    if (!Number.isFinite(g) || !Number.isFinite(w)) throw new PftError("numeric", `unit '${u.name}': its gradient or weights are not finite`);
    if (w === 0) throw new PftError("numeric", `unit '${u.name}': its weights are all zero, so the relative gradient norm is undefined`);
    out.set(u.name, Math.sqrt(g / w));
  }
  return out;
}

/**
 * A uniform score in [0, 1) per unit from `uniform`, drawn in catalog order: the top-k of every
 * group is then a uniform random k-subset. Pass a seeded generator to make a draw repeatable.
 */
export function randomScores(catalog: Catalog, uniform: () => number): Map<string, number> {
  return new Map(catalog.units.map((u) => [u.name, uniform()]));
}
