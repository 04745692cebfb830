// A soup's parameters the way Table 3 counts them: the sum of its ingredients' trained parameters
// (five full fine-tunes of ViT-B/16 on ImageNet-1K: 5 x 86.57M = 432.9M; the FAPFT soup with
// top-k 1..5: 7.86 + 14.95 + 22.03 + 29.12 + 36.21 = 110.2M).
//
// Table 3 prints each run's Params to 0.01M and the soup's to 0.1M, and its soup totals are the
// sums of the printed per-run numbers: 5 x 87.77 = 438.85 -> 438.9 for Swin-B on ImageNet-1K,
// where the exact 5 x 87,768,224 = 438.84M would print 438.8. `millions` follows the table.
import type { Catalog } from "../models/index.js";
import { countParams } from "../partial/index.js";

export interface SoupParams {
  /** Each ingredient's trained parameters, exactly. */
  perRun: number[];
  /** Their sum, exactly. */
  total: number;
  /** Table 3's printed total: each run rounded to 0.01M, summed, rounded to 0.1M (halves up). */
  millions: string;
}

/** The soup's parameter count from its ingredients' trained parameters. */
export function soupParams(trained: readonly number[]): SoupParams {
  for (const t of trained) if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`soupParams: ${t} is not a parameter count`);
  const centiM = trained.reduce((s, t) => s + Math.round(t / 1e4), 0);
  return { perRun: [...trained], total: trained.reduce((s, t) => s + t, 0), millions: (Math.round(centiM / 10) / 10).toFixed(1) };
}

/** `runs` full fine-tunes of the model: every parameter trained in each. */
export function fullSoupParams(catalog: Catalog, runs: number): SoupParams {
  return soupParams(Array.from({ length: runs }, () => countParams(catalog, "full").trainable));
}

/** One FAPFT run per top-k (counts depend on top-k alone, not on which units the angles pick). */
export function fapftSoupParams(catalog: Catalog, topks: readonly (number | string | readonly number[])[]): SoupParams {
  return soupParams(topks.map((topk) => countParams(catalog, "fapft", { topk: typeof topk === "number" ? [topk] : topk }).trainable));
}
