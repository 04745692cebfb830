// `pft eval --robustness` and `pft eval --ood DATA`: the corruption benchmark (per-corruption
// errors, CE and mCE against the nearest-class-mean reference) and out-of-distribution accuracy
// for any checkpoint, as the eval command's extension (flags merged into `pft eval`'s).
import { loadDataset, type DatasetSplits } from "../../data/index.js";
import type { VisionModel } from "../../models/index.js";
import {
  CORRUPTIONS,
  MIN_CORRUPTION_SIDE,
  evaluateOod,
  evaluateRobustness,
  modelClassifier,
  type OodResult,
  type RobustnessReport,
} from "../../robust/index.js";
import type { FlagSpecs, FlagValues } from "../args.js";

export const robustnessFlags: FlagSpecs = {
  robustness: { type: "boolean", help: "corruption benchmark on the test split: errors per corruption and severity, CE and mCE (docs/robustness.md)" },
  ood: { type: "string", help: "also the accuracy on a shifted dataset with the same classes (e.g. digits for an MNIST model)" },
  "c-per-class": { type: "integer", default: 100, help: "--robustness: the first N test images of each class (0: the whole test split)" },
  "c-seed": { type: "integer", default: 0, help: "--robustness: seed of the corruptions" },
  extras: { type: "boolean", help: "--robustness: also the 4 extra corruptions (reported, never in mCE)" },
};

export interface RobustEvalContext {
  weights: string;
  model: string;
  data: string;
  splits: DatasetSplits;
  bf16: boolean;
  batchSize: number;
}

const pct = (v: number, d = 2) => (v * 100).toFixed(d);

function printReport(modelName: string, r: RobustnessReport): void {
  const m = r.models[modelName];
  const ref = r.reference.errors;
  const [c, h, w] = r.resolution;
  console.log(`${modelName} on ${r.dataset}: ${r.n} images${r.perClass ? ` (first ${r.perClass} per class)` : ""}, corrupted at ${c}x${h}x${w}, seed ${r.seed}; reference: ${r.reference.name}`);
  console.log(`${"corruption".padEnd(18)} ${"family".padEnd(8)} ${"error % at severity 1..5".padEnd(34)} ${"mean".padStart(6)} ${"ref".padStart(6)} ${"CE".padStart(7)}`);
  for (const name of r.corruptions) {
    const info = CORRUPTIONS.find((x) => x.name === name)!;
    const e = m.errors[name]!;
    const mean = e.reduce((a, b) => a + b, 0) / e.length;
    const refMean = ref.errors[name]!.reduce((a, b) => a + b, 0) / e.length;
    const tag = info.extra ? "  (extra, not in mCE)" : "";
    console.log(`${name.padEnd(18)} ${info.family.padEnd(8)} ${e.map((v) => pct(v, 1).padStart(6)).join("")}${"".padEnd(4)} ${pct(mean, 1).padStart(6)} ${pct(refMean, 1).padStart(6)} ${pct(m.ce[name]!, 1).padStart(7)}${tag}`);
  }
  console.log(`clean error ${pct(m.clean)}% (reference ${pct(ref.clean)}%)`);
  console.log(`mCE ${pct(m.mce)}%, relative mCE ${m.relativeMce === null ? "n/a" : pct(m.relativeMce) + "%"}, mean accuracy under corruption ${pct(1 - m.meanError)}%`);
}

/** Runs the benchmark and/or the OOD evaluation for one loaded model and prints the results. */
export function runRobustEval(model: VisionModel, ctx: RobustEvalContext, f: FlagValues): void {
  const json = f.json === true;
  const out: { weights: string; model: string; data: string; robustness?: RobustnessReport; ood?: OodResult } = { weights: ctx.weights, model: ctx.model, data: ctx.data };
  if (f.robustness) {
    // tiny images (8x8 digits) are corrupted at the model's input size, as the model sees them
    const size = ctx.splits.test.height < MIN_CORRUPTION_SIDE ? model.imageSize : undefined;
    const perClass = (f["c-per-class"] as number) || undefined;
    out.robustness = evaluateRobustness({ [ctx.model]: modelClassifier(model, { bf16: ctx.bf16, batchSize: ctx.batchSize }) }, ctx.splits, {
      seed: f["c-seed"] as number,
      perClass,
      extras: f.extras === true,
      size,
      log: (line) => process.stderr.write(line + "\n"),
    });
    if (!json) printReport(ctx.model, out.robustness);
  }
  if (f.ood !== undefined) {
    const target = loadDataset(String(f.ood)).test;
    out.ood = evaluateOod(model, target, { sourceClasses: ctx.splits.train.classes, bf16: ctx.bf16, batchSize: ctx.batchSize });
    if (!json) console.log(`OOD ${out.ood.dataset}: top-1 ${pct(out.ood.acc)}%, loss ${out.ood.loss.toFixed(4)} (${out.ood.n} images)`);
  }
  if (json) console.log(JSON.stringify(out));
}

