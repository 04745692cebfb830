// The partial fine-tuning commands: fine-tuned angles, plans, and trainable-parameter counts.
import { PftError } from "../../errors.js";
import { catalogFromShapes, createModel, type Catalog } from "../../models/index.js";
import { countMethodParams, methodMetadata } from "../../peft/index.js";
import {
  computeAngles,
  parseAngleParams,
  countParams,
  modelCatalog,
  openWeights,
  parseDifficulty,
  parseStrategy,
  planFapft,
  planForStrategy,
  rankByGroup,
  angleMap,
  savePlan,
  torchSnippet,
  type Direction,
  type Plan,
} from "../../partial/index.js";
import type { FlagValues } from "../args.js";
import type { Command } from "../command.js";
import { methodFlags, methodFrom } from "./train.js";

const str = (f: FlagValues, k: string): string | undefined => (f[k] === undefined ? undefined : String(f[k]));
const num = (f: FlagValues, k: string): number | undefined => (f[k] === undefined ? undefined : Number(f[k]));
const M = (n: number): string => `${(n / 1e6).toFixed(2)}M`;
const int = (n: number): string => n.toLocaleString("en-US");

export const angles: Command = {
  summary: "fine-tuned angle of every residual unit between two checkpoints (Eq. 2)",
  usage: "pft angles PRETRAINED FINETUNED [--angle-params all|weights] [--json] [--allow-nonfinite]",
  flags: {
    "angle-params": { type: "string", default: "all", help: "all: every parameter of a unit (Eq. 2); weights: its weight matrices only (no norms, biases)" },
    json: { type: "boolean", help: 'print {"angleParams", "units": [{name, kind, stage, index, params, angle}]}, angles in degrees' },
    "allow-nonfinite": { type: "boolean", help: "forensics: read NaN/Inf weights instead of refusing the file (a unit holding them still has no angle)" },
  },
  run(p, f) {
    if (p.length !== 2) throw new PftError("argument", `angles takes two checkpoints, PRETRAINED FINETUNED (got ${p.length} arguments)`);
    const angleParams = parseAngleParams(String(f["angle-params"]));
    const report = computeAngles(p[0], p[1], { params: angleParams, allowNonfinite: f["allow-nonfinite"] === true });
    if (f.json) {
      console.log(JSON.stringify({ angleParams, units: report.units.map(({ name, kind, stage, index, params, angle }) => ({ name, kind, stage, index, params, angle })) }, null, 2));
      return;
    }
    const rank = new Map<string, string>();
    for (const g of rankByGroup(report.catalog, angleMap(report))) for (const u of g.units) rank.set(u.name, `${u.rank}/${g.units.length} in ${g.group}`);
    const rows = report.units.map((u) => [u.name, u.kind, String(u.stage), String(u.index), int(u.params), fmtAngle(u.angle), rank.get(u.name)!]);
    console.log(`${report.arch}: ${report.units.length} residual units; angles in degrees over ${angleParams === "all" ? "all their parameters" : "their weight matrices"}, rank 1 = largest in its homogeneous group`);
    console.log(table(["unit", "kind", "stage", "block", "params", "angle", "rank"], rows, [false, false, true, true, true, true, false]));
  },
};

export const params: Command = {
  summary: "trainable and total parameters of a strategy or a parameter-efficient method on a model (no weights needed)",
  usage: [
    "pft params --model NAME --strategy S [--num-classes N] [--topk K | --difficulty easy|hard] [--json]",
    "       pft params --model NAME --method adapter|vpt|ssf|lora|linear [--adapter-reduction R | --prompts P | --lora-rank R --lora-targets T] [--num-classes N] [--json]",
  ].join("\n"),
  flags: {
    model: { type: "string", help: "registered model name (e.g. vit_base_patch16_224)" },
    "num-classes": { type: "integer", help: "classifier size (the model's own by default)" },
    strategy: { type: "string", help: "full (A), attn (B), ffn (C), attn-first-half (D) ... blocks-last-half (I), linear, fapft" },
    topk: { type: "string", help: "FAPFT per-stage top-k, e.g. 4 or 0,0,6,2" },
    difficulty: { type: "string", help: "FAPFT: easy|hard, for Table 7's default top-k" },
    ...methodFlags,
    json: { type: "boolean", help: 'print {"model", "strategy", "trainable", "total"} ({"model", "method", "options", ...} with --method)' },
  },
  run(_p, f) {
    const model = str(f, "model");
    if (!model) throw new PftError("argument", "params needs --model (pft params --help)");
    const method = methodFrom(f);
    if (method && f.strategy !== undefined) throw new PftError("argument", "give --strategy or --method, not both");
    if (method && method.method !== "linear") {
      for (const k of ["topk", "difficulty"]) if (f[k] !== undefined) throw new PftError("config", `--${k} is for fapft, not ${method.method}`);
      const numClasses = num(f, "num-classes");
      if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) throw new PftError("config", `the number of classes must be a whole number >= 1, got ${numClasses}`);
      const m = createModel(model, numClasses === undefined ? {} : { numClasses });
      const shapes = new Map(m.namedParameters().map((n) => [n.name, n.param.shape]));
      m.dispose();
      const { trainable, total } = countMethodParams(shapes, method);
      const options = JSON.parse(methodMetadata(method).methodOptions) as object;
      if (f.json) console.log(JSON.stringify({ model, method: method.method, options, trainable, total }));
      else console.log(`${model} ${method.method}${Object.keys(options).length ? ` ${JSON.stringify(options)}` : ""}: ${int(trainable)} of ${int(total)} parameters trainable (${M(trainable)} of ${M(total)}, ${((100 * trainable) / total).toFixed(1)}%)`);
      return;
    }
    const strategyText = method ? "linear" : f.strategy; // --method linear is the strategy
    if (strategyText === undefined) throw new PftError("argument", "params needs --strategy or --method (pft params --help)");
    const strategy = parseStrategy(String(strategyText));
    const topk = str(f, "topk");
    const difficulty = f.difficulty === undefined ? undefined : parseDifficulty(String(f.difficulty));
    if (strategy !== "fapft" && (topk !== undefined || difficulty !== undefined)) throw new PftError("config", `--topk and --difficulty are for fapft, not ${strategy}`);
    if (strategy === "fapft" && topk === undefined && difficulty === undefined) throw new PftError("config", "fapft needs --topk, or --difficulty easy|hard for Table 7's default");
    const catalog = modelCatalog(model, num(f, "num-classes"));
    const { trainable, total } = countParams(catalog, strategy, { topk, difficulty });
    if (f.json) console.log(JSON.stringify({ model, strategy, trainable, total }));
    else console.log(`${model} ${strategy}: ${int(trainable)} of ${int(total)} parameters trainable (${M(trainable)} of ${M(total)}, ${((100 * trainable) / total).toFixed(1)}%)`);
  },
};

export const plan: Command = {
  summary: "write a plan (the exact trainable parameters) for a strategy, or FAPFT from two checkpoints",
  usage: [
    "pft plan --strategy S (--model NAME [--num-classes N] | --checkpoint FILE) [--out plan.json] [--emit torch] [--json]",
    "       pft plan PRETRAINED FINETUNED (--difficulty easy|hard | --largest | --smallest) [--topk K] [--angle-params all|weights] [--out plan.json] [--emit torch] [--json]",
  ].join("\n"),
  flags: {
    strategy: { type: "string", help: "full (A), attn (B), ffn (C), attn-first-half (D) ... blocks-last-half (I), linear, fapft" },
    model: { type: "string", help: "registered model name (manual strategies)" },
    "num-classes": { type: "integer", help: "classifier size with --model (the model's own by default)" },
    checkpoint: { type: "string", help: "take the model's names and shapes from this checkpoint instead of --model" },
    difficulty: { type: "string", help: "FAPFT: easy (smallest angles) or hard (largest); picks Table 7's default top-k" },
    largest: { type: "boolean", help: "FAPFT: fine-tune the units with the largest angles" },
    smallest: { type: "boolean", help: "FAPFT: fine-tune the units with the smallest angles" },
    topk: { type: "string", help: "FAPFT per-stage top-k, e.g. 4 or 0,0,6,2" },
    "angle-params": { type: "string", help: "FAPFT: angles over all of a unit's parameters (default) or its weight matrices only" },
    out: { type: "string", default: "plan.json", help: "where to write the plan" },
    emit: { type: "string", help: "also print a snippet that applies the plan: torch" },
    json: { type: "boolean", help: "print the plan instead of a summary" },
  },
  run(p, f) {
    const emit = str(f, "emit");
    if (emit !== undefined && emit !== "torch") throw new PftError("argument", `--emit takes 'torch', got '${emit}'`);
    const strategy = f.strategy === undefined ? (p.length === 2 ? "fapft" : undefined) : parseStrategy(String(f.strategy));
    if (strategy === undefined) throw new PftError("argument", "plan needs --strategy, or PRETRAINED FINETUNED checkpoints for FAPFT (pft plan --help)");
    let result: Plan;
    if (strategy === "fapft") {
      if (p.length !== 2) throw new PftError("config", `fapft selects by fine-tuned angles: give PRETRAINED FINETUNED checkpoints (got ${p.length})`);
      for (const k of ["model", "num-classes", "checkpoint"]) if (f[k] !== undefined) throw new PftError("argument", `--${k} is for manual strategies; a FAPFT plan takes its model from the checkpoints`);
      if (f.largest && f.smallest) throw new PftError("argument", "give --largest or --smallest, not both");
      const direction: Direction | undefined = f.largest ? "largest" : f.smallest ? "smallest" : undefined;
      const difficulty = f.difficulty === undefined ? undefined : parseDifficulty(String(f.difficulty));
      if (!direction && !difficulty) throw new PftError("config", "fapft needs --difficulty easy|hard, or --largest/--smallest with --topk");
      const topk = str(f, "topk");
      if (topk === undefined && !difficulty) throw new PftError("config", "fapft needs --topk, or --difficulty easy|hard for Table 7's default");
      const angleParams = parseAngleParams(String(f["angle-params"] ?? "all"));
      result = planFapft(computeAngles(p[0], p[1], { params: angleParams }), { topk, difficulty, direction }, { pretrained: p[0], finetuned: p[1] });
    } else {
      if (p.length > 0) throw new PftError("argument", `checkpoints are for fapft; strategy ${strategy} takes --model or --checkpoint`);
      for (const k of ["difficulty", "largest", "smallest", "topk", "angle-params"]) if (f[k] !== undefined) throw new PftError("config", `--${k} is for fapft, not ${strategy}`);
      const model = str(f, "model");
      const checkpoint = str(f, "checkpoint");
      if ((model === undefined) === (checkpoint === undefined)) throw new PftError("argument", `strategy ${strategy} needs exactly one of --model or --checkpoint`);
      if (checkpoint !== undefined && f["num-classes"] !== undefined) throw new PftError("argument", "--num-classes goes with --model; a checkpoint has its own classifier");
      const catalog: Catalog = model !== undefined ? modelCatalog(model, num(f, "num-classes")) : shapesCatalog(checkpoint!);
      result = planForStrategy(catalog, strategy, { model: model ?? null });
    }
    const out = String(f.out);
    savePlan(out, result);
    if (f.json) console.log(JSON.stringify(result, null, 2));
    else {
      const what = result.strategy === "fapft" ? `fapft, ${result.direction} angles, top-k [${result.topk!.join(", ")}]` : result.strategy;
      console.log(`wrote ${out}: ${what}: ${result.units.length} units, ${int(result.counts.trainable)} of ${int(result.counts.total)} parameters trainable (${M(result.counts.trainable)})`);
    }
    if (emit === "torch") console.log(torchSnippet(result, out));
  },
};

function shapesCatalog(path: string): Catalog {
  using w = openWeights(path);
  return catalogFromShapes(w.shapes);
}

function fmtAngle(deg: number): string {
  return deg === 0 ? "0" : deg >= 1e-3 ? deg.toFixed(Math.max(0, 5 - Math.floor(Math.log10(deg)))).replace(/\.?0+$/, "") : deg.toExponential(4);
}

function table(head: string[], rows: string[][], right: boolean[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
