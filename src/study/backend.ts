// What the study asks of the rest of pft, in one replaceable object: train a run into its
// directory, compute fine-tuned angles, make a soup, measure robustness and cost. The real backend
// is runTraining, computeAngles, makeSoup, src/robust's benchmark and measureCost; tests pass a
// stub that writes small run directories instantly.
import { describeEngine } from "../engine/index.js";
import { loadDataset } from "../data/index.js";
import type { VisionModel } from "../models/index.js";
import { computeAngles, type AngleReport } from "../partial/index.js";
import { evaluateOod, evaluateRobustness, measureCost, modelClassifier, type Classifier, type CostSample } from "../robust/index.js";
import type { CostMeasure, CostMethodRecord } from "../report/records.js";
import { makeSoup, type SoupOptions, type SoupReport } from "../soups/index.js";
import { defaultPrecision, loadTrained, readTrained, runTraining, type RunOptions } from "../train/index.js";
import type { MethodOptions } from "./config.js";
import { costLabel } from "./design.js";

/** Table 4 for a few checkpoints of one model: corruptions of a test split, and a shifted dataset. */
export interface RobustnessRequest {
  /** Registered model name. */
  model: string;
  /** Plain weights files (runs' model.safetensors, soups). */
  checkpoints: { label: string; weights: string }[];
  /** The dataset the models were fine-tuned on (its test split is corrupted; the reference fits its train split). */
  data: string;
  /** A dataset with the same classes, evaluated as it is; null: none. */
  ood: string | null;
  perClass: number;
  seed: number;
  /** Evaluate under bf16 autocast (as the runs were evaluated) or in float32. */
  bf16: boolean;
  log?: (line: string) => void;
}

export interface RobustnessResult {
  corruption: { dataset: string; images: number; perClass: number | null; seed: number; types: number };
  ood: { dataset: string; images: number } | null;
  /** In the order of the checkpoints. */
  rows: { label: string; oodAcc: number | null; mce: number; relativeMce: number | null; corruptedAcc: number }[];
}

/** Fig. 5 for one model: every method's training and test step, each in a fresh process. */
export interface CostRequest {
  /** Registered model name, with a head of `numClasses`. */
  model: string;
  numClasses: number;
  /** In the order of the rows: full, attn, ffn, fapft, linear, adapter, vpt, ssf, lora (those the study runs). */
  methods: string[];
  /** The baselines' options, as the study's runs use them. */
  methodOptions: MethodOptions;
  /** FAPFT's units (the study's plan). */
  fapftUnits: string[];
  precision: "bf16" | "fp32";
  batch: number;
  warmup: number;
  reps: number;
  rounds: number;
  threads: number;
  log?: (line: string) => void;
}

export interface CostResult {
  /** The engine and CPU, in words. */
  machine: string;
  /** In the order of the methods. */
  rows: CostMethodRecord[];
}

export interface StudyBackend {
  /** Trains one run into `o.out` (resuming from its checkpoint when there is one); writes result.json last. */
  train(o: RunOptions): void;
  /** Fine-tuned angle of every unit between two weights files or run directories. */
  angles(pretrained: string, finetuned: string): AngleReport;
  /** A model soup of run directories (weights, and a JSON report next to them). */
  soup(o: SoupOptions): SoupReport;
  /** Corruption benchmark and out-of-distribution accuracy (src/robust). */
  robustness(o: RobustnessRequest): RobustnessResult;
  /** Training and test cost of every method (src/robust/cost.ts, a fresh process per method and mode). */
  cost(o: CostRequest): CostResult;
  /** One line on the compute engine, for the report (null if unknown). */
  engine(): string | null;
  /** The precision runs train and the cost step measures in, unless the recipe sets one. */
  defaultPrecision(): "bf16" | "fp32";
}

export const realBackend: StudyBackend = {
  train(o) {
    runTraining(o);
  },
  angles: computeAngles,
  soup: makeSoup,
  robustness: robustnessOf,
  cost: costOf,
  engine: () => describeEngine(),
  defaultPrecision: () => defaultPrecision(),
};

function costOf(o: CostRequest): CostResult {
  const report = measureCost(
    { model: o.model, numClasses: o.numClasses, methods: o.methods, fapftUnits: o.fapftUnits, precision: o.precision, batch: o.batch, warmup: o.warmup, reps: o.reps, rounds: o.rounds, threads: o.threads, ...o.methodOptions },
    { log: o.log },
  );
  const measure = (s: CostSample): CostMeasure => ({ latencyMs: s.latencyMs, wallMs: s.medianMs, tensorMiB: s.tensorMiB, rssMiB: s.memoryMiB, peakRssMiB: s.peakRssMiB });
  return {
    machine: `${report.engine}; ${report.cpu}`,
    rows: report.rows.map((r) => ({ method: r.method, label: costLabel(r.method), trainable: r.trainable, total: r.total, testModel: r.test.testModel ?? "plain", train: measure(r.train), test: measure(r.test) })),
  };
}

function robustnessOf(o: RobustnessRequest): RobustnessResult {
  const bf16 = o.bf16;
  const splits = loadDataset(o.data, {});
  const models: VisionModel[] = [];
  try {
    for (const c of o.checkpoints) models.push(loadTrained(readTrained(c.weights, { model: o.model }), splits.train.classes.length, o.data));
    const classifiers: Record<string, Classifier> = Object.fromEntries(models.map((m, i) => [`m${i}`, modelClassifier(m, { bf16 })]));
    // Images under 16 pixels a side (the 8x8 digits) are corrupted at the model's input size, which they are upscaled to anyway.
    const size = splits.test.height < 16 ? models[0].imageSize : undefined;
    const report = evaluateRobustness(classifiers, { train: splits.train, test: splits.test }, { perClass: o.perClass, seed: o.seed, size, log: o.log });
    const shifted = o.ood ? loadDataset(o.ood, {}).test : null;
    return {
      corruption: { dataset: report.dataset, images: report.n, perClass: report.perClass, seed: report.seed, types: report.corruptions.length },
      ood: shifted ? { dataset: shifted.name, images: shifted.length } : null,
      rows: o.checkpoints.map((c, i) => {
        const r = report.models[`m${i}`];
        return {
          label: c.label,
          oodAcc: shifted ? evaluateOod(models[i], shifted, { sourceClasses: splits.train.classes, bf16 }).acc : null,
          mce: r.mce,
          relativeMce: r.relativeMce,
          corruptedAcc: 1 - r.meanError,
        };
      }),
    };
  } finally {
    models.forEach((m) => m.dispose());
  }
}
