// Fine-tuned Angle guided Partial Fine-Tuning (section 3.2, appendix B.2-B.4): within every
// homogeneous group, fine-tune the top-k units by largest angle (challenging datasets) or by
// smallest angle (easy ones). top-k is per stage ("4" for ViT, "0,0,6,2" for four-stage models)
// and applies to every group of that stage; Table 7 gives defaults by architecture and difficulty.
import { PftError } from "../errors.js";
import type { Catalog, ResidualUnit, UnitGroup } from "../models/index.js";
import { policyFor, type Difficulty } from "./policy.js";

export type Direction = "largest" | "smallest";

/** Appendix B.2: small angles for easy datasets, large angles for challenging ones. */
export const DIRECTION_FOR: Readonly<Record<Difficulty, Direction>> = { easy: "smallest", hard: "largest" };

export function parseDifficulty(text: string): Difficulty {
  if (text === "easy" || text === "hard") return text;
  throw new PftError("config", `unknown difficulty '${text}' (easy or hard)`);
}

/** "4", "0,0,6,2" or "[0, 0, 6, 2]" -> per-stage counts. Syntax only; validateTopk checks them against a model. */
export function parseTopk(text: string): number[] {
  const body = text.trim().replace(/^\[(.*)\]$/, "$1");
  const parts = body.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === "")) throw new PftError("config", `top-k '${text}' is not a comma-separated list of counts (e.g. 4 or 0,0,6,2)`);
  return parts.map((p) => {
    if (!/^[+-]?\d+$/.test(p)) throw new PftError("config", `top-k '${text}': '${p}' is not a whole number of units`);
    const v = Number(p);
    if (v < 0) throw new PftError("config", `top-k '${text}': ${v} is negative (a count of units per group)`);
    return v;
  });
}

/** Checks a per-stage top-k against a catalog: one count per stage, each within every group of its stage. */
export function validateTopk(catalog: Catalog, topk: readonly number[]): void {
  const stages = catalog.depths.length;
  if (topk.length !== stages) {
    const example = stages === 1 ? "e.g. 4" : `e.g. ${Array.from({ length: stages }, (_, i) => (i < stages - 2 ? 0 : 2)).join(",")}`;
    throw new PftError("config", `top-k [${topk.join(", ")}] has ${topk.length} ${topk.length === 1 ? "entry" : "entries"} but ${catalog.arch} has ${stages} stage${stages === 1 ? "" : "s"} (one count per stage, ${example})`);
  }
  topk.forEach((k, s) => {
    if (!Number.isInteger(k) || k < 0) throw new PftError("config", `top-k for stage ${s} is ${k}: it must be a whole number >= 0`);
    for (const g of catalog.groups.filter((g) => g.stage === s)) {
      if (k > g.units.length) {
        throw new PftError("config", `top-k for stage ${s} is ${k} but group '${g.id}' holds only ${g.units.length} unit${g.units.length === 1 ? "" : "s"}`);
      }
    }
  });
}

/**
 * The top-k to use: the given one (text or counts), else Table 7's default for the architecture
 * and difficulty. Validated against the catalog either way.
 */
export function resolveTopk(catalog: Catalog, opts: { topk?: string | readonly number[]; difficulty?: Difficulty }): number[] {
  let topk: number[];
  if (opts.topk !== undefined) topk = typeof opts.topk === "string" ? parseTopk(opts.topk) : [...opts.topk];
  else {
    if (!opts.difficulty) throw new PftError("config", `FAPFT needs a top-k, or a difficulty (easy|hard) to take Table 7's default`);
    const policy = policyFor(catalog.arch);
    const d = policy.defaultTopk[opts.difficulty];
    if (!d) throw new PftError("config", `${policy.source} gives no default top-k for ${opts.difficulty} datasets on ${catalog.arch}: give one`);
    topk = [...d];
    try {
      validateTopk(catalog, topk);
    } catch (e) {
      throw new PftError("config", `${policy.source}'s default top-k [${topk.join(", ")}] does not fit this model (${(e as Error).message}): give one`);
    }
    return topk;
  }
  validateTopk(catalog, topk);
  return topk;
}

/**
 * FAPFT's selection: in each group, the k units (k = topk[stage]) with the largest or smallest
 * angle; ties go to the earlier unit. Returned in catalog order.
 */
export function selectFapft(catalog: Catalog, angles: ReadonlyMap<string, number>, opts: { topk: readonly number[]; direction: Direction }): ResidualUnit[] {
  validateTopk(catalog, opts.topk);
  const chosen = new Set<string>();
  for (const g of catalog.groups) {
    const k = opts.topk[g.stage];
    const ranked = g.units
      .map((u, i) => {
        const a = angles.get(u.name);
        if (a === undefined) throw new PftError("argument", `FAPFT: no angle for unit '${u.name}'`);
        if (!Number.isFinite(a)) throw new PftError("numeric", `FAPFT: the angle of unit '${u.name}' is ${a}`);
        return { u, a, i };
      })
      .sort((p, q) => (opts.direction === "largest" ? q.a - p.a : p.a - q.a) || p.i - q.i);
    for (const r of ranked.slice(0, k)) chosen.add(r.u.name);
  }
  return catalog.units.filter((u) => chosen.has(u.name));
}

/** The size of a homogeneous group's units (all equal, or PftError("config")). */
export function unitSize(g: UnitGroup): number {
  const n = g.units[0]?.numel ?? 0;
  const odd = g.units.find((u) => u.numel !== n);
  if (odd) throw new PftError("config", `group '${g.id}' is not homogeneous: '${g.units[0].name}' has ${n} parameters, '${odd.name}' ${odd.numel}`);
  return n;
}

/** Parameters in the units FAPFT trains with this top-k, whichever units the angles pick. */
export function fapftUnitParams(catalog: Catalog, topk: readonly number[]): number {
  validateTopk(catalog, topk);
  return catalog.groups.reduce((s, g) => s + topk[g.stage] * unitSize(g), 0);
}
