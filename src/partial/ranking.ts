// Rankings of fine-tuned angles within homogeneous groups (Fig. 4), and Kendall's tau-b between
// two rankings (Fig. 4's consistency measure).
import { PftError } from "../errors.js";
import type { Catalog } from "../models/index.js";

export interface RankedUnit {
  name: string;
  angle: number;
  /** 1 = largest angle in the group (Fig. 4's convention); ties share the best rank. */
  rank: number;
}

export interface GroupRanking {
  group: string;
  kind: string;
  stage: number;
  /** In catalog order (block order), each with its rank. */
  units: RankedUnit[];
}

/** Each homogeneous group's units ranked by angle, largest first. */
export function rankByGroup(catalog: Catalog, angles: ReadonlyMap<string, number>): GroupRanking[] {
  return catalog.groups.map((g) => {
    const values = g.units.map((u) => {
      const a = angles.get(u.name);
      if (a === undefined) throw new PftError("argument", `no angle for unit '${u.name}'`);
      return a;
    });
    return {
      group: g.id,
      kind: g.kind,
      stage: g.stage,
      units: g.units.map((u, i) => ({ name: u.name, angle: values[i], rank: 1 + values.filter((v) => v > values[i]).length })),
    };
  });
}

/**
 * Kendall's tau-b between paired observations (ties handled as in scipy.stats.kendalltau):
 * (concordant - discordant) / sqrt((n0 - tiesX) (n0 - tiesY)). O(n log n) (Knight's algorithm).
 * NaN when either side is constant.
 */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (y.length !== n) throw new PftError("argument", `kendallTau: ${n} values against ${y.length}`);
  if (n < 2) throw new PftError("argument", `kendallTau: needs at least 2 pairs, got ${n}`);
  if ([...x, ...y].some((v) => Number.isNaN(v))) throw new PftError("numeric", "kendallTau: NaN in the input");
  // Sort by x, then y; count ties in x, in y, and joint ties.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j] || y[i] - y[j]);
  const tiesX = tiePairs(order.map((i) => x[i]));
  const joint = tiePairs(order.map((i) => `${x[i]}\u0000${y[i]}`));
  const ys = order.map((i) => y[i]);
  const tiesY = tiePairs([...ys].sort((a, b) => a - b));
  // Discordant pairs: strict inversions of y in the (x, y)-sorted order.
  const discordant = countInversions(ys);
  const n0 = (n * (n - 1)) / 2;
  const concordantMinusDiscordant = n0 - tiesX - tiesY + joint - 2 * discordant;
  const denom = Math.sqrt((n0 - tiesX) * (n0 - tiesY));
  return denom === 0 ? NaN : Math.max(-1, Math.min(1, concordantMinusDiscordant / denom));
}

/** Pairs of equal neighbours in a sorted sequence: Σ t(t-1)/2 over runs of length t. */
function tiePairs<T>(sorted: readonly T[]): number {
  let pairs = 0;
  let run = 1;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && sorted[i] === sorted[i - 1]) run++;
    else {
      pairs += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return pairs;
}

/** Pairs i < j with v[i] > v[j] (strictly), by merge sort. */
function countInversions(v: number[]): number {
  let a = [...v];
  let buf = new Array<number>(a.length);
  let count = 0;
  for (let width = 1; width < a.length; width *= 2) {
    for (let lo = 0; lo < a.length; lo += 2 * width) {
      const mid = Math.min(lo + width, a.length);
      const hi = Math.min(lo + 2 * width, a.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (a[j] < a[i]) {
          count += mid - i;
          buf[k++] = a[j++];
        } else buf[k++] = a[i++];
      }
      while (i < mid) buf[k++] = a[i++];
      while (j < hi) buf[k++] = a[j++];
    }
    [a, buf] = [buf, a];
  }
  return count;
}

/**
 * Kendall's tau-b between two angle sets over the same units (e.g. two fine-tuning runs of one
 * model): `names` defaults to every unit of `a`, each of which must be in `b`.
 */
export function angleTau(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>, names: readonly string[] = [...a.keys()]): number {
  const y = names.map((n) => {
    const v = b.get(n);
    if (v === undefined) throw new PftError("argument", `angleTau: unit '${n}' has no angle on the second side`);
    return v;
  });
  const x = names.map((n) => {
    const v = a.get(n);
    if (v === undefined) throw new PftError("argument", `angleTau: unit '${n}' has no angle on the first side`);
    return v;
  });
  return kendallTau(x, y);
}
