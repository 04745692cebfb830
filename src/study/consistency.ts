// Fig. 4: the fine-tuned angles of several full fine-tunes of one model (columns that differ in
// one setting), ranked within each homogeneous group, and Kendall's tau between every pair of
// columns, per group and on average.
import type { Catalog } from "../models/index.js";
import { kendallTau, rankByGroup } from "../partial/index.js";
import type { ConsistencyRecord } from "../report/records.js";

export function meanOrNull(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** One Fig. 4 panel: `angles[i]` are column i's angles (unit name -> degrees). */
export function consistencyRecord(
  model: string,
  axis: ConsistencyRecord["axis"],
  catalog: Catalog,
  columns: ConsistencyRecord["columns"],
  angles: readonly ReadonlyMap<string, number>[],
): ConsistencyRecord {
  const groups = catalog.groups.map((g) => {
    const names = g.units.map((u) => u.name);
    const ranks = angles.map((a) => rankByGroup({ ...catalog, groups: [g] }, a)[0].units.map((u) => u.rank));
    const taus: { a: number; b: number; tau: number | null }[] = [];
    for (let a = 0; a < angles.length; a++) {
      for (let b = a + 1; b < angles.length; b++) {
        // A group of one unit has no order; a constant side has no tau (NaN): both are null.
        const tau = names.length >= 2 ? kendallTau(names.map((n) => angles[a].get(n)!), names.map((n) => angles[b].get(n)!)) : NaN;
        taus.push({ a, b, tau: Number.isFinite(tau) ? tau : null });
      }
    }
    return { group: g.id, units: names, ranks, taus, meanTau: meanOrNull(taus.map((x) => x.tau)) };
  });
  return { model, axis, columns, groups, meanTau: meanOrNull(groups.flatMap((g) => g.taus.map((x) => x.tau))) };
}
