// A plan: the outcome of a selection, saved as JSON so a trainer (pft's or PyTorch's) can apply
// it. It lists the exact trainable parameter names (timm's), the chosen units, the angles that
// chose them, the strategy, top-k and direction, and the counts.
//
//   const plan = planFapft(computeAngles(pre, ft), { difficulty: "hard" });
//   savePlan("plan.json", plan);          // temp file + rename: never half-written
//   const again = loadPlan("plan.json");  // validated; pass a catalog to check it fits a model
import { readFileSync } from "node:fs";
import { PftError } from "../errors.js";
import { writeJsonAtomic } from "../files.js";
import type { Catalog } from "../models/index.js";
import { trainableSet } from "./accounting.js";
import { angleMap, type AngleReport } from "./angles.js";
import { DIRECTION_FOR, resolveTopk, selectFapft, type Direction } from "./fapft.js";
import type { Difficulty } from "./policy.js";
import { letterOf, parseStrategy, unitsForStrategy, type StrategyId, type StrategyName } from "./strategies.js";

export const PLAN_FORMAT = "pft-plan";
export const PLAN_VERSION = 1;

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  arch: string;
  /** Registered model name, when the plan was made from one. */
  model: string | null;
  strategy: StrategyId;
  /** Fig. 3's letter, for the manual strategies that have one. */
  letter: string | null;
  /** FAPFT's per-stage top-k (null for manual strategies). */
  topk: number[] | null;
  direction: Direction | null;
  difficulty: Difficulty | null;
  /** The checkpoints the angles came from (FAPFT). */
  checkpoints: { pretrained: string; finetuned: string } | null;
  /** The fine-tuned angle of every unit, in degrees (FAPFT), by unit name. */
  angles: Record<string, number> | null;
  /** The chosen residual units, in catalog order. */
  units: string[];
  /** Exactly the parameters to train, in natural key order. */
  trainable: string[];
  counts: { trainable: number; total: number };
}

export interface PlanMeta {
  model?: string | null;
}

/** A plan for a manual strategy (or full / linear). */
export function planForStrategy(catalog: Catalog, strategy: StrategyName, meta: PlanMeta = {}): Plan {
  const units = unitsForStrategy(catalog, strategy);
  const set = trainableSet(catalog, strategy, units);
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    arch: catalog.arch,
    model: meta.model ?? null,
    strategy,
    letter: letterOf(strategy),
    topk: null,
    direction: null,
    difficulty: null,
    checkpoints: null,
    angles: null,
    units: units.map((u) => u.name),
    trainable: set.names,
    counts: { trainable: set.trainable, total: set.total },
  };
}

export interface FapftOptions {
  /** Per-stage top-k; Table 7's default for `difficulty` when absent. */
  topk?: string | readonly number[];
  difficulty?: Difficulty;
  /** Overrides the direction the difficulty implies (Fig. 6's ablation selects against it). */
  direction?: Direction;
}

/** FAPFT's plan from the angles of a pretrained/fine-tuned pair. */
export function planFapft(report: AngleReport, opts: FapftOptions, meta: PlanMeta & { pretrained?: string; finetuned?: string } = {}): Plan {
  const { catalog } = report;
  const direction = opts.direction ?? (opts.difficulty ? DIRECTION_FOR[opts.difficulty] : undefined);
  if (!direction) throw new PftError("config", "FAPFT needs a direction: a difficulty (easy: smallest angles, hard: largest) or largest/smallest");
  const topk = resolveTopk(catalog, opts);
  const angles = angleMap(report);
  // Selections that would be made by something other than the angles are refused.
  if (topk.every((k) => k === 0)) throw new PftError("config", `top-k [${topk.join(", ")}] selects no unit: nothing would be fine-tuned but the head (that is --strategy linear)`);
  if (report.units.length > 0 && report.units.every((u) => u.angle === 0)) {
    throw new PftError("checkpoint", `every fine-tuned angle is 0: the two checkpoints hold the same unit weights, so the ${direction} angles would be chosen by tie order (was the fine-tuned checkpoint trained?)`);
  }
  const units = selectFapft(catalog, angles, { topk, direction });
  const set = trainableSet(catalog, "fapft", units);
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    arch: catalog.arch,
    model: meta.model ?? null,
    strategy: "fapft",
    letter: null,
    topk,
    direction,
    difficulty: opts.difficulty ?? null,
    checkpoints: meta.pretrained !== undefined && meta.finetuned !== undefined ? { pretrained: meta.pretrained, finetuned: meta.finetuned } : null,
    angles: Object.fromEntries(angles),
    units: units.map((u) => u.name),
    trainable: set.names,
    counts: { trainable: set.trainable, total: set.total },
  };
}

// ------------------------------------------------------------------------------------ saving and loading

/** Writes the plan as JSON: to a temporary file in the same directory, fsync'ed, then renamed over `path`. */
export function savePlan(path: string, plan: Plan): void {
  validatePlan(plan, path);
  writeJsonAtomic(path, plan);
}

/** Reads and validates a plan; with a catalog, also checks that it fits that model exactly. */
export function loadPlan(path: string, catalog?: Catalog): Plan {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PftError("io", `${path}: cannot read the plan (${err.code ?? err.message})`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new PftError("config", `${path}: not a plan: invalid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  return validatePlan(value, path, catalog);
}

/**
 * Checks that `value` is a well-formed plan (and, given a catalog, that every name exists in the
 * model, the units' parameters are trainable and the counts are right). PftError("config") naming
 * the first problem.
 */
export function validatePlan(value: unknown, where: string, catalog?: Catalog): Plan {
  const bad = (msg: string) => new PftError("config", `${where}: not a valid plan: ${msg}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("not a JSON object");
  const p = value as Record<string, unknown>;
  if (p.format !== PLAN_FORMAT) throw bad(`"format" is ${JSON.stringify(p.format)}, expected "${PLAN_FORMAT}"`);
  if (p.version !== PLAN_VERSION) throw bad(`"version" is ${JSON.stringify(p.version)}; this pft reads version ${PLAN_VERSION}`);
  if (typeof p.arch !== "string" || !p.arch) throw bad(`"arch" must be a non-empty string`);
  if (p.model !== null && typeof p.model !== "string") throw bad(`"model" must be a string or null`);
  let strategy: StrategyId;
  try {
    strategy = parseStrategy(String(p.strategy));
  } catch {
    throw bad(`unknown "strategy" ${JSON.stringify(p.strategy)}`);
  }
  if (strategy !== p.strategy) throw bad(`"strategy" must be a canonical name, got ${JSON.stringify(p.strategy)} (${strategy})`);
  if (p.letter !== letterOf(strategy)) throw bad(`"letter" ${JSON.stringify(p.letter)} does not match strategy ${strategy}`);
  const names = (k: string): string[] => {
    const v = p[k];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x.length > 0)) throw bad(`"${k}" must be an array of names`);
    const dup = v.find((x, i) => v.indexOf(x) !== i);
    if (dup !== undefined) throw bad(`"${k}" lists '${dup}' twice`);
    return v as string[];
  };
  const units = names("units");
  names("trainable"); // checked like "units"; the plan keeps it as read
  const counts = p.counts as Record<string, unknown> | null | undefined;
  const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  if (typeof counts !== "object" || counts === null || !isCount(counts.trainable) || !isCount(counts.total)) {
    throw bad(`"counts" must be {"trainable": n, "total": n} with whole numbers`);
  }
  if (counts.trainable > counts.total) throw bad(`"counts": ${counts.trainable} trainable of ${counts.total} total`);
  if (strategy === "fapft") {
    if (!Array.isArray(p.topk) || !p.topk.every((k) => Number.isInteger(k) && k >= 0)) throw bad(`"topk" must be an array of whole numbers for fapft`);
    if (p.direction !== "largest" && p.direction !== "smallest") throw bad(`"direction" must be "largest" or "smallest" for fapft`);
    if (p.difficulty !== null && p.difficulty !== "easy" && p.difficulty !== "hard") throw bad(`"difficulty" must be "easy", "hard" or null`);
    const angles = p.angles as Record<string, unknown> | null;
    if (typeof angles !== "object" || angles === null || Array.isArray(angles)) throw bad(`"angles" must map unit names to degrees for fapft`);
    for (const [k, v] of Object.entries(angles)) if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 180) throw bad(`angle of '${k}' is ${JSON.stringify(v)}, not degrees in [0, 180]`);
    const missing = units.find((u) => !(u in angles));
    if (missing) throw bad(`chosen unit '${missing}' has no angle`);
  } else {
    for (const k of ["topk", "direction", "difficulty", "angles"]) if (p[k] !== null) throw bad(`"${k}" must be null for strategy ${strategy}`);
  }
  const ck = p.checkpoints as Record<string, unknown> | null;
  if (ck !== null && (typeof ck !== "object" || typeof ck.pretrained !== "string" || typeof ck.finetuned !== "string")) {
    throw bad(`"checkpoints" must be null or {"pretrained": path, "finetuned": path}`);
  }
  const plan = value as Plan;
  if (catalog) checkAgainst(plan, catalog, bad);
  return plan;
}

function checkAgainst(plan: Plan, catalog: Catalog, bad: (msg: string) => PftError): void {
  if (plan.arch !== catalog.arch) throw bad(`it is for ${plan.arch}, the model is ${catalog.arch}`);
  const known = new Set([...catalog.units.flatMap((u) => u.params), ...catalog.others.map((o) => o.name)]);
  const unknown = plan.trainable.find((n) => !known.has(n));
  if (unknown) throw bad(`parameter '${unknown}' is not in this ${catalog.arch} model`);
  const trainable = new Set(plan.trainable);
  const unitByName = new Map(catalog.units.map((u) => [u.name, u]));
  for (const n of plan.units) {
    const u = unitByName.get(n);
    if (!u) throw bad(`unit '${n}' is not in this ${catalog.arch} model`);
    const off = u.params.find((p) => !trainable.has(p));
    if (off) throw bad(`unit '${n}' is chosen but its parameter '${off}' is not trainable`);
  }
  let count = 0;
  for (const u of catalog.units) {
    const inPlan = u.params.filter((p) => trainable.has(p)).length;
    if (inPlan === u.params.length) count += u.numel;
    else if (inPlan > 0) throw bad(`unit '${u.name}' is partly trainable; plans train whole units`);
  }
  for (const o of catalog.others) if (trainable.has(o.name)) count += o.numel;
  if (plan.counts.total !== catalog.total) throw bad(`"counts.total" is ${plan.counts.total} but the model has ${catalog.total} parameters`);
  if (plan.counts.trainable !== count) throw bad(`"counts.trainable" is ${plan.counts.trainable} but its trainable names hold ${count} parameters`);
}

// ------------------------------------------------------------------------------------ PyTorch

/** A short PyTorch snippet that applies the plan (saved at `planPath`) to a timm model named `model`. */
export function torchSnippet(plan: Plan, planPath: string): string {
  const what = plan.strategy === "fapft" ? `fapft (${plan.direction} angles, top-k ${JSON.stringify(plan.topk)})` : plan.strategy;
  return [
    `# pft plan: ${what} on ${plan.model ?? plan.arch}: ${plan.counts.trainable} of ${plan.counts.total} parameters trainable`,
    `import json`,
    `plan = json.load(open(${JSON.stringify(planPath)}))`,
    `params = dict(model.named_parameters())  # model: the timm model, e.g. timm.create_model(...)`,
    `missing = set(plan["trainable"]) - params.keys()`,
    `assert not missing, f"plan names not in the model: {sorted(missing)[:5]}"`,
    `model.requires_grad_(False)`,
    `for name in plan["trainable"]:`,
    `    params[name].requires_grad_(True)`,
    `assert sum(p.numel() for p in model.parameters() if p.requires_grad) == plan["counts"]["trainable"]`,
  ].join("\n");
}
