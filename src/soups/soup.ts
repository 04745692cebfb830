// A model soup from checkpoints: uniform (the element-wise mean of all) or greedy (Wortsman et
// al. 2022's Recipe 1 over held-out validation accuracy), written as safetensors with a JSON
// report next to it: the ingredients, each one's and the soup's validation and test accuracy,
// which tensors differed, and the soup's parameters as Table 3 counts them.
//
//   const report = makeSoup({ method: "greedy", checkpoints: ["runs/a", "runs/b", "runs/c"], out: "soup.safetensors" });
//   // soup.safetensors (atomic, streamed) and soup.json
//
// Validation is a held-out split of the training data, the one the runs used: dataset, seed and
// fraction come from what the runs recorded (or the options), never the test set.
import { assertReplaceableReport } from "./overwrite.js";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PftError } from "../errors.js";
import { loadDataset } from "../data/index.js";
import { createModel } from "../models/index.js";
import { buildLoaders, defaultPrecision, evaluate, recordedSplit, trainConfig, writeJsonAtomic, type EvalResult } from "../train/index.js";
import { loadAverage, writeAverage, type SoupObserver } from "./average.js";
import { checkDescent, openBase, type DescentEvidence, type SoupBase } from "./base.js";
import { evaluateEnsemble } from "./ensemble.js";
import { MERGE_METHODS, needsBase, validateMergeSpec, writeMerge, type MergeMethod, type MergeSpec, type MergeSummary } from "./merge.js";
import { greedySelect, type GreedyResult } from "./greedy.js";
import { openIngredients, type Ingredient, type IngredientSet } from "./ingredients.js";
import { soupParams } from "./params.js";

/** uniform and greedy average (average.ts); the others merge deltas from the base (merge.ts). */
export type SoupMethod = "greedy" | MergeMethod;

export const SOUP_METHODS: readonly SoupMethod[] = ["uniform", "greedy", ...MERGE_METHODS.filter((m) => m !== "uniform")];

/** The merge a soup method names, with its parameters checked (greedy: the uniform average of its pick). */
export function soupSpec(method: SoupMethod, p: { lambda?: number; density?: number; alpha?: number } = {}): MergeSpec {
  const need = (flag: "lambda" | "density" | "alpha"): number => {
    const v = p[flag];
    if (v === undefined) throw new PftError("argument", `the ${method} soup needs --${flag}`);
    return v;
  };
  switch (method) {
    case "greedy":
    case "uniform":
      return { method: "uniform" };
    case "changed-mean":
    case "model-stock":
      return { method };
    case "task-arithmetic":
      return validateMergeSpec({ method, lambda: need("lambda") });
    case "ties":
      return validateMergeSpec({ method, density: need("density"), lambda: p.lambda });
    case "wise-ft":
      return validateMergeSpec({ method, alpha: need("alpha") });
    default:
      throw new PftError("argument", `unknown soup method '${String(method)}' (${SOUP_METHODS.join(", ")})`);
  }
}

/** The seeded validation split of the training data that the ingredients are judged on. */
export interface ValSplit {
  data: string;
  /** Fraction (or count) of the training split held out. */
  val: number;
  seed: number;
  trainPerClass: number | null;
  /** True when every ingredient recorded exactly this split, so its images were held out of all of them. */
  heldOutFromAll: boolean;
}

/** Validation or test accuracy of the uniform average of `members` (ingredient indices). */
export type SoupEvaluator = (members: readonly number[], split: "val" | "test") => EvalResult;

export interface SoupOptions {
  method: SoupMethod;
  /** The methods' parameters: task-arithmetic's lambda (ties: optional, default 1), ties' density, wise-ft's alpha. */
  lambda?: number;
  density?: number;
  alpha?: number;
  /** The pretrained weights (file or run directory); default: the `from` every run recorded. Needed by all but uniform and greedy. */
  base?: string;
  /** Weights files or pft run directories. */
  checkpoints: readonly string[];
  /** The soup's weights (safetensors); the report goes next to it (soupReportPath). */
  out: string;
  /** false: average only, no data (uniform soups). Default true. */
  evaluate?: boolean;
  /** Overrides of what the runs recorded: dataset spec, held-out fraction, split seed, few-shot count. */
  data?: string;
  val?: number;
  seed?: number;
  trainPerClass?: number;
  /** Registered model (default: the one the checkpoints record). */
  model?: string;
  /** Evaluation batch size (default 256). */
  batchSize?: number;
  /** Default: bf16 where the CPU has it natively, as `pft eval`. */
  precision?: "bf16" | "fp32";
  /** Replaces the model evaluation (tests, or another harness); the split is then only recorded if resolvable. */
  evaluator?: SoupEvaluator;
  /** With `evaluator`: accuracy of a written soup file, and of the logit ensemble of members (else not reported). */
  fileEvaluator?: (file: string, split: "val" | "test") => EvalResult;
  ensembleEvaluator?: SoupEvaluator;
  observe?: SoupObserver;
  log?: (line: string) => void;
}

export interface IngredientReport {
  path: string;
  file: string;
  strategy: string | null;
  /** Parameters its run trained (run.json's trainableParams); null for a bare weights file. */
  trainableParams: number | null;
  val: EvalResult | null;
  test: EvalResult | null;
  inSoup: boolean;
}

export interface SoupReport {
  format: "pft-soup";
  version: 1;
  method: SoupMethod;
  model: string | null;
  weights: string;
  val: ValSplit | null;
  ingredients: IngredientReport[];
  /** The greedy pass: ingredients by validation accuracy, then each candidate soup's accuracy. */
  greedy: { order: string[]; steps: { path: string; valAcc: number; kept: boolean }[] } | null;
  soup: { members: string[]; val: EvalResult | null; test: EvalResult | null };
  /** The merge and its parameters. */
  spec: MergeSpec;
  /** The pretrained weights the deltas are from, and how each member was found to descend from them. */
  base: { path: string; file: string; recorded: boolean; evidence: DescentEvidence[] } | null;
  /** The logit ensemble of the same members: the reference every soup is compared with. */
  ensemble: { val: EvalResult | null; test: EvalResult | null } | null;
  /** Tensors the base lacks or shapes differently (their uniform mean), and model-stock's ratio per tensor. */
  merge: { unbased: string[]; ratios: Record<string, number> } | null;
  params: {
    /** Table 3's count: the sum of the members' trained parameters (null when some run is unknown). */
    trained: number | null;
    /** As Table 3 prints it, in millions. */
    millions: string | null;
    /** Scalars in the soup file; those that differed between members (averaged); those identical in all (copied once). */
    stored: number;
    averaged: number;
    shared: number;
  };
  /** Tensors by name: how many, how many identical in every member, and which differed. */
  tensors: { total: number; shared: number; differing: string[] };
}

/** Where the report of a soup written to `out` goes: soup.safetensors -> soup.json. */
export function soupReportPath(out: string): string {
  return out.replace(/\.safetensors$/, "") + ".json";
}

export function makeSoup(o: SoupOptions): SoupReport {
  const log = o.log ?? (() => {});
  const spec = soupSpec(o.method, o);
  const doEval = o.evaluate ?? true;
  if (!doEval && o.method === "greedy") throw new PftError("argument", "a greedy soup chooses its ingredients by validation accuracy: it cannot skip evaluation");
  assertReplaceableReport(soupReportPath(o.out), o.out);
  using set = openIngredients(o.checkpoints);
  // the base is checked before any evaluation, which can take long
  const base: SoupBase | null = needsBase(spec.method) || o.base !== undefined ? openBase(o.base, set) : null;
  using _closeBase = { [Symbol.dispose]: () => base?.close() };
  const descent = base ? checkDescent(set, base) : null;
  mkdirSync(dirname(resolve(o.out)), { recursive: true }); // before any evaluation, which can take long

  let split: ValSplit | null = null;
  let evaluator: SoupEvaluator | null = null;
  let fileEvaluator = o.fileEvaluator ?? null;
  let ensembleEvaluator = o.ensembleEvaluator ?? null;
  let dispose = () => {};
  if (doEval) {
    if (o.evaluator) {
      evaluator = o.evaluator;
      split = tryResolve(set, o);
    } else {
      split = resolveValSplit(set.items, o);
      if (!split.heldOutFromAll) log(`note: the ingredients did not all hold out this validation split (${describeSplit(split)}); some of its images were training images`);
      const m = modelEvaluator(set, split, o);
      evaluator = m.evaluate;
      fileEvaluator = m.evaluateFile;
      ensembleEvaluator = m.evaluateEnsemble;
      dispose = m.dispose;
    }
  }
  try {
    const cache = new Map<string, EvalResult>();
    const evalOf = (members: readonly number[], which: "val" | "test"): EvalResult => {
      const key = `${which}:${members.join(",")}`;
      let r = cache.get(key);
      if (!r) cache.set(key, (r = evaluator!(members, which)));
      return r;
    };

    const individual = evaluator ? set.items.map((it, i) => {
      const r = { val: evalOf([i], "val"), test: evalOf([i], "test") };
      log(`${it.path}: validation ${pct(r.val.acc)}, test ${pct(r.test.acc)}`);
      return r;
    }) : null;

    let members = set.items.map((_, i) => i);
    let greedy: GreedyResult | null = null;
    if (o.method === "greedy") {
      greedy = greedySelect(individual!.map((r) => r.val.acc), (m) => evalOf(m, "val").acc);
      for (const s of greedy.steps) log(`greedy: + ${set.items[s.ingredient].path}: validation ${pct(s.acc)} -> ${s.kept ? "kept" : "dropped"}`);
      members = greedy.kept;
    }

    const metadata = soupMetadata(set, members, o.method, spec);
    const averaged = spec.method === "uniform";
    const summary = averaged ? writeAverage(set, o.out, { members, metadata, observe: o.observe }) : writeMerge(set, base!.reader, o.out, spec, { members, metadata, observe: o.observe });
    const soupEval = (which: "val" | "test") => (averaged ? (evaluator ? evalOf(members, which) : null) : fileEvaluator ? fileEvaluator(o.out, which) : null);
    const soupVal = soupEval("val");
    const soupTest = soupEval("test");
    if (soupVal && soupTest) log(`soup of ${members.length}: validation ${pct(soupVal.acc)}, test ${pct(soupTest.acc)}`);
    const ensemble = ensembleEvaluator ? { val: members.length > 1 ? ensembleEvaluator(members, "val") : evalOf(members, "val"), test: members.length > 1 ? ensembleEvaluator(members, "test") : evalOf(members, "test") } : null;
    if (ensemble?.val && ensemble.test) log(`logit ensemble of the same ${members.length}: validation ${pct(ensemble.val.acc)}, test ${pct(ensemble.test.acc)}`);

    const trained = members.map((i) => set.items[i].run?.trainableParams ?? null);
    const known = trained.every((t): t is number => typeof t === "number");
    const params = known ? soupParams(trained) : null;
    const inSoup = new Set(members);
    const report: SoupReport = {
      format: "pft-soup",
      version: 1,
      method: o.method,
      model: set.model ?? o.model ?? null,
      weights: o.out,
      val: split,
      ingredients: set.items.map((it, i) => ({
        path: it.path,
        file: it.file,
        strategy: it.run?.strategy ?? it.reader.metadata.strategy ?? null,
        trainableParams: it.run?.trainableParams ?? null,
        val: individual?.[i].val ?? null,
        test: individual?.[i].test ?? null,
        inSoup: inSoup.has(i),
      })),
      greedy: greedy && {
        order: greedy.order.map((i) => set.items[i].path),
        steps: greedy.steps.map((s) => ({ path: set.items[s.ingredient].path, valAcc: s.acc, kept: s.kept })),
      },
      soup: { members: members.map((i) => set.items[i].path), val: soupVal, test: soupTest },
      spec,
      base: base && { path: base.path, file: base.file, recorded: base.recorded, evidence: descent!.evidence },
      ensemble,
      merge: averaged ? null : { unbased: (summary as MergeSummary).unbased, ratios: (summary as MergeSummary).ratios },
      params: {
        trained: params?.total ?? null,
        millions: params?.millions ?? null,
        stored: summary.differingNumel + summary.sharedNumel,
        averaged: summary.differingNumel,
        shared: summary.sharedNumel,
      },
      tensors: { total: summary.differing.length + summary.shared, shared: summary.shared, differing: summary.differing },
    };
    writeJsonAtomic(soupReportPath(o.out), report);
    return report;
  } finally {
    dispose();
  }
}

// ---------------------------------------------------------------------------------------------- the split

type SplitOverrides = Pick<SoupOptions, "data" | "val" | "seed" | "trainPerClass" | "method">;

/** What one ingredient recorded about its data (its manifest, else its weights' metadata). */
function recordedSplitOf(it: Ingredient): { data?: string; val?: number; seed?: number; trainPerClass?: number } {
  const { splitSeed, ...rest } = recordedSplit(it.run, it.reader.metadata);
  return { ...rest, seed: splitSeed };
}

/**
 * The validation split to judge the ingredients on: the options' values, else what every
 * ingredient recorded (they must agree), else pft's defaults (val 0.1, seed 0). Ingredients
 * trained with different split seeds share no held-out set: a greedy soup then needs `seed`.
 */
export function resolveValSplit(items: readonly Ingredient[], o: SplitOverrides): ValSplit {
  const recs = items.map(recordedSplitOf);
  const agreed = <K extends "data" | "val" | "seed" | "trainPerClass">(k: K, what: string): (typeof recs)[number][K] | undefined => {
    const known = recs.map((r, i) => ({ v: r[k], i })).filter((x) => x.v !== undefined && x.v !== null);
    const other = known.find((x) => x.v !== known[0].v);
    if (other) {
      throw new PftError("config", `the ingredients recorded different ${what}s (${items[known[0].i].path}: ${known[0].v}, ${items[other.i].path}: ${other.v}); pass the one to use`);
    }
    return known[0]?.v;
  };
  const data = o.data ?? agreed("data", "dataset");
  if (!data) {
    // A uniform soup needs data only to be evaluated: say so, as --no-eval averages without any.
    const noEval = o.method === "greedy" ? "" : " (or --no-eval to average without evaluating)";
    throw new PftError("config", `${items[0].path} does not record its dataset: pass --data${noEval}`);
  }
  const val = o.val ?? agreed("val", "validation fraction") ?? 0.1;
  if (!(val > 0)) throw new PftError("config", `the validation split must be a fraction in (0, 1) or a count, got ${val}`);
  let seed = o.seed;
  if (seed === undefined) {
    const seeds = [...new Set(recs.map((r) => r.seed))];
    if (seeds.length > 1 && o.method === "greedy") {
      throw new PftError("config", `the ingredients were trained with different split seeds (${seeds.map(String).join(", ")}), so no validation image was held out of all of them: pass --seed to choose one split`);
    }
    seed = recs[0].seed ?? 0;
  }
  const tpc = o.trainPerClass ?? agreed("trainPerClass", "few-shot count") ?? null;
  const heldOutFromAll = recs.every((r) => r.data === data && (r.val ?? 0.1) === val && r.seed === seed);
  return { data, val, seed, trainPerClass: tpc, heldOutFromAll };
}

function tryResolve(set: IngredientSet, o: SplitOverrides): ValSplit | null {
  try {
    return resolveValSplit(set.items, o);
  } catch {
    return null;
  }
}

const describeSplit = (s: ValSplit): string => `${s.data}, val ${s.val}, seed ${s.seed}`;

// ---------------------------------------------------------------------------------------------- evaluation

/** Evaluates soups by loading each average into one model (streamed) and running the split through it. */
function modelEvaluator(set: IngredientSet, split: ValSplit, o: SoupOptions): { evaluate: SoupEvaluator; evaluateFile: (file: string, split: "val" | "test") => EvalResult; evaluateEnsemble: SoupEvaluator; dispose: () => void } {
  const name = o.model ?? set.model;
  if (!name) throw new PftError("config", `${set.items[0].file} does not record its model: pass --model`);
  const peft = set.items.find((it) => it.reader.metadata.method);
  if (peft) throw new PftError("config", `${peft.file} holds ${peft.reader.metadata.method} weights, not a plain model: soup plain weights (a merged.safetensors), or average without evaluation (--no-eval)`);
  const splits = loadDataset(split.data, { seed: split.seed, val: split.val, trainPerClass: split.trainPerClass ?? undefined });
  if (!splits.val) throw new PftError("config", `${split.data}: no validation split`);
  const model = createModel(name, { numClasses: splits.train.classes.length });
  const precision = o.precision ?? defaultPrecision();
  const cfg = trainConfig({ batchSize: o.batchSize ?? 256, precision });
  const loaders = buildLoaders(splits, model, cfg, { evalBatchSize: cfg.batchSize });
  let loaded = "";
  return {
    evaluate(members, which) {
      const key = members.join(",");
      if (key !== loaded) {
        loaded = "";
        loadAverage(model, set, { members });
        loaded = key;
      }
      return evaluate(model, which === "val" ? loaders.val! : loaders.test, precision === "bf16");
    },
    evaluateFile(file, which) {
      loaded = "";
      using one = openIngredients([file]);
      loadAverage(model, one);
      return evaluate(model, which === "val" ? loaders.val! : loaders.test, precision === "bf16");
    },
    evaluateEnsemble(members, which) {
      loaded = "";
      return evaluateEnsemble(model, members, (i) => loadAverage(model, set, { members: [i] }), which === "val" ? loaders.val! : loaders.test, precision === "bf16");
    },
    dispose: () => model.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------- output

function soupMetadata(set: IngredientSet, members: readonly number[], method: SoupMethod, spec?: MergeSpec): Record<string, string> {
  const md: Record<string, string> = { ...set.items[members[0]].reader.metadata };
  md.format ??= "pt";
  md.producer = "pft";
  if (set.model) md.model = set.model;
  md.strategy = `soup:${method}`;
  md.soup = method;
  md.soup_ingredients = JSON.stringify(members.map((i) => set.items[i].path));
  if (spec && spec.method !== "uniform") md.soup_spec = JSON.stringify(spec);
  return md;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
