// Exact trainable-parameter accounting: which parameter names a strategy trains, and how many
// scalars that is. The rules:
//   full      every parameter;
//   linear    the classifier (the "head" role) only;
//   partial   (every manual strategy B-I and FAPFT) the selected units, the classifier, and the
//             architecture's extra trainable roles (policy.ts; derived from the paper's tables).
import { PftError } from "../errors.js";
import { catalogOf, createModel, type Catalog, type ResidualUnit } from "../models/index.js";
import { naturalCompare } from "../models/catalog.js";
import { fapftUnitParams, resolveTopk } from "./fapft.js";
import { policyFor, type Difficulty } from "./policy.js";
import { unitsForStrategy, type StrategyId } from "./strategies.js";

export interface TrainableSet {
  /** Exact parameter names, in natural key order. */
  names: string[];
  trainable: number;
  total: number;
}

export interface ParamCount {
  trainable: number;
  total: number;
}

/** Non-unit parameters a strategy trains (the classifier, plus the architecture's extras for partial strategies). */
export function trainableOthers(catalog: Catalog, strategy: StrategyId): Catalog["others"] {
  if (strategy === "full") return catalog.others;
  const roles = new Set<string>(["head"]);
  if (strategy !== "linear") for (const r of policyFor(catalog.arch).extraTrainableRoles) roles.add(r);
  return catalog.others.filter((o) => roles.has(o.role));
}

/** The trainable names and counts for a strategy whose selected units are `units` (ignored by full and linear). */
export function trainableSet(catalog: Catalog, strategy: StrategyId, units: readonly ResidualUnit[]): TrainableSet {
  const chosen = strategy === "full" ? catalog.units : strategy === "linear" ? [] : units;
  const others = trainableOthers(catalog, strategy);
  const names = [...chosen.flatMap((u) => u.params), ...others.map((o) => o.name)].sort(naturalCompare);
  const trainable = chosen.reduce((s, u) => s + u.numel, 0) + others.reduce((s, o) => s + o.numel, 0);
  return { names, trainable, total: catalog.total };
}

/**
 * Trainable and total parameter counts without any weights: for a manual strategy from its units,
 * for FAPFT from top-k alone (units of a group are the same size, so the angles only decide which).
 */
export function countParams(catalog: Catalog, strategy: StrategyId, opts: { topk?: string | readonly number[]; difficulty?: Difficulty } = {}): ParamCount {
  if (strategy !== "fapft") {
    const { trainable, total } = trainableSet(catalog, strategy, unitsForStrategy(catalog, strategy));
    return { trainable, total };
  }
  const topk = resolveTopk(catalog, opts);
  const others = trainableOthers(catalog, "fapft").reduce((s, o) => s + o.numel, 0);
  return { trainable: fapftUnitParams(catalog, topk) + others, total: catalog.total };
}

/** The catalog of a registered model with `numClasses` classes (builds the model once, then frees it). */
export function modelCatalog(model: string, numClasses?: number): Catalog {
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) {
    throw new PftError("config", `the number of classes must be a whole number >= 1, got ${numClasses}`);
  }
  const m = createModel(model, numClasses === undefined ? {} : { numClasses });
  try {
    return catalogOf(m);
  } finally {
    m.dispose();
  }
}
