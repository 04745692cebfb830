// A run directory, the one home of what it holds and how it is read back:
//
//   OUT/run.json          the manifest (RunManifest): model, source weights and their SHA-256, data
//                         and split, what trained, precision, recipe, seed, engine
//   OUT/metrics.jsonl     one JSON line per epoch (EpochRecord)
//   OUT/model.safetensors the final weights (best on validation), with the manifest's facts in
//                         the metadata, so a bare weights file still says what it is
//   OUT/result.json       what came out (RunResult); written last: its presence means finished
//   OUT/merged.safetensors  SSF/LoRA with --merge; checkpoints: train/checkpoint.ts
//
// The trainer writes the manifest once, when a run starts; `pft eval`, the study, soups and the
// robustness benchmark read runs back through readManifest / readResult / readEpochs and build the
// trained model with loadTrained.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { engineInfo, type Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { RUN_FILES, weightsFileOf } from "../files.js";
import { createModel, loadPretrained, type VisionModel } from "../models/index.js";
import { openSafetensors, readSafetensors, type ReadOptions } from "../nn/index.js";
import type { Plan } from "../partial/index.js";
import { applyMethod, methodFromMetadata, methodMetadata, type MethodSpec } from "../peft/index.js";
import type { TrainBudget, TrainConfig } from "./config.js";
import type { EpochRecord } from "./trainer.js";

export const MANIFEST_FORMAT = "pft-run";

/** The held-out validation split of the training data, and the few-shot subset. */
export interface RunSplit {
  /** Fraction (or count) of the training split held out for validation. */
  val: number;
  /** Seed of the validation split and the few-shot subset (separate from the training seed). */
  splitSeed: number;
  /** Few-shot: training images per class; null: all. */
  trainPerClass: number | null;
}

/** What the caller of the trainer knows about a run; with the recipe, the resume fingerprint. */
export interface RunInputs extends Partial<RunSplit> {
  /** Registered model name. */
  model: string;
  /** Dataset spec, as loadDataset takes it. */
  dataset?: string;
  /** The pretrained weights it started from (file or run directory) and the SHA-256 of their file. */
  from?: string | null;
  fromSha256?: string | null;
  /** What trained, in one word: a strategy, `plan:FILE`, or a method's name. */
  strategy?: string;
  /** The plan it trained (strategies and FAPFT), or null. */
  plan?: Plan | null;
  /** The parameter-efficient method and its options, or null. */
  method?: MethodSpec | null;
  dropPath?: number | null;
}

/** run.json: the inputs and what the trainer resolved. Older run directories lack some fields. */
export interface RunManifest extends RunInputs {
  format?: typeof MANIFEST_FORMAT;
  version?: 1;
  config: TrainConfig;
  budget: TrainBudget;
  seed: number;
  precision: TrainConfig["precision"];
  /** The engine it trained on, in words (describeEngine). */
  engine?: string | null;
  /** libtorch's thread count (PFT_THREADS): a resume must use the same one to give the same bytes. */
  threads?: number;
  /** Exactly the parameters it trained. */
  trainable: string[];
  trainableParams: number;
  totalParams: number;
}

/** result.json. */
export interface RunResultRecord {
  out: string;
  model: string;
  /** What trained: a strategy, `plan:...`, or the method's name. */
  strategy: string;
  /** The parameter-efficient method and its options, when one was trained (strategy is then its name). */
  method?: MethodSpec;
  seed: number;
  trainable: number;
  total: number;
  /** How long it trained: the unit it was configured in (epochs or steps), steps, epochs, warm-up. */
  budget: TrainBudget;
  best: { epoch: number; acc: number; loss: number } | null;
  test: { acc: number; loss: number; n: number };
}

/** One line of metrics.jsonl: the trainer's record of an epoch. */
export type EpochLine = EpochRecord;

/** SHA-256 of a file's bytes. */
export const fileSha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The run directory a path names: the directory itself, or the one a run's model.safetensors sits in; null for a bare file. */
export function runDirOf(path: string): string | null {
  if (existsSync(path) && statSync(path).isDirectory()) return path;
  return basename(path) === RUN_FILES.weights && existsSync(join(dirname(path), RUN_FILES.manifest)) ? dirname(path) : null;
}

function readJsonIfThere<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    throw new PftError("checkpoint", `${file}: not valid JSON`);
  }
}

/** A run directory's manifest; null where it has none. Every field may be absent in older or hand-made ones. */
export const readManifest = (dir: string): Partial<RunManifest> | null => readJsonIfThere(join(dir, RUN_FILES.manifest));

/** A finished run's result.json; null while it has not finished. */
export const readResult = (dir: string): RunResultRecord | null => readJsonIfThere(join(dir, RUN_FILES.result));

/** The epochs metrics.jsonl records, in order (none before the first epoch ends). */
export function readEpochs(dir: string): EpochLine[] {
  const file = join(dir, RUN_FILES.metrics);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as EpochLine);
}

/** The model weights of a file or run directory, with the metadata pft recorded there. */
export function readWeights(path: string): { file: string; metadata: Record<string, string>; tensors: Map<string, Tensor> } {
  const file = path.endsWith(".safetensors") ? path : join(path, RUN_FILES.weights);
  const { tensors, metadata } = readSafetensors(file);
  return { file, metadata, tensors };
}

/** The weights' metadata a run records: the manifest's plain facts, so a bare weights file says what it is. */
export function weightsMetadata(inputs: RunInputs | undefined, numClasses: number): Record<string, string> {
  const meta: Record<string, string> = { format: "pt", producer: "pft" };
  const { method, plan: _plan, fromSha256: _sha, ...plain } = inputs ?? ({} as Partial<RunInputs>);
  for (const [k, v] of Object.entries(plain)) if (typeof v === "string" || typeof v === "number") meta[k] = String(v);
  if (method) Object.assign(meta, methodMetadata(method));
  meta.num_classes = String(numClasses);
  return meta;
}

/** The precision a run uses unless told: bf16 where the CPU has native bf16, else fp32. */
export function defaultPrecision(engine: { cpuBf16: boolean } = engineInfo()): TrainConfig["precision"] {
  return engine.cpuBf16 ? "bf16" : "fp32";
}

/** What trained weights are and how they were trained: from the run's manifest, else the weights' metadata. */
export interface TrainedRecord {
  /** The weights file. */
  file: string;
  /** Its run directory, when it sits in one. */
  dir: string | null;
  manifest: Partial<RunManifest> | null;
  metadata: Record<string, string>;
  /** Registered model name. */
  model: string;
  /** The dataset it was trained on, if recorded. */
  data: string | undefined;
  /** The split it held out (pft's defaults where nothing is recorded: val 0.1, seed 0). */
  split: RunSplit;
  /** The parameter-efficient method the weights carry, or null for a plain model. */
  method: MethodSpec | null;
  /** The precision it trained and was evaluated in, when recorded. */
  precision: TrainConfig["precision"] | undefined;
  /** How the weights are read: non-finite values refused unless allowNonfinite (forensics). */
  read: ReadOptions;
}

const numberOf = (s: string | undefined): number | undefined => (s === undefined || s === "" || !Number.isFinite(Number(s)) ? undefined : Number(s));

/**
 * The data and split a run recorded, from its manifest, else its weights' metadata; absent where
 * neither says. Runs from before the split seed was separated from the training seed drew the
 * split with the training seed.
 */
export function recordedSplit(manifest: Partial<RunManifest> | null, metadata: Readonly<Record<string, string>>): { data?: string; val?: number; splitSeed?: number; trainPerClass?: number } {
  return {
    data: manifest?.dataset ?? metadata.dataset,
    val: manifest?.val ?? numberOf(metadata.val),
    splitSeed: manifest?.splitSeed ?? numberOf(metadata.splitSeed) ?? manifest?.seed ?? manifest?.config?.seed,
    trainPerClass: manifest?.trainPerClass ?? numberOf(metadata.trainPerClass),
  };
}

/** Reads what a weights file or run directory records (the weights' header only). Overrides win. */
export function readTrained(path: string, overrides: { model?: string; data?: string } = {}, read: ReadOptions = {}): TrainedRecord {
  const file = weightsFileOf(path);
  const dir = runDirOf(path);
  const manifest = dir ? readManifest(dir) : null;
  const reader = openSafetensors(file, read);
  let metadata: Record<string, string>;
  try {
    metadata = { ...reader.metadata };
    // Fail fast: refuse non-finite weights now, one tensor at a time, before a caller loads data.
    if (!read.allowNonfinite) for (const k of reader.keys()) reader.bytes(k);
  } finally {
    reader.close();
  }
  const model = overrides.model ?? manifest?.model ?? metadata.model;
  if (!model) throw new PftError("config", `${file} does not record its model: pass --model`);
  const split = recordedSplit(manifest, metadata);
  return {
    file,
    dir,
    manifest,
    metadata,
    model,
    data: overrides.data ?? split.data,
    split: { val: split.val ?? 0.1, splitSeed: split.splitSeed ?? 0, trainPerClass: split.trainPerClass ?? null },
    method: methodFromMetadata(metadata),
    precision: manifest?.config?.precision ?? manifest?.precision,
    read,
  };
}

/**
 * The trained model: built for `numClasses`, wrapped in its method when it carries one (so the
 * weights fit), the weights loaded. PftError("checkpoint") when the classifier does not fit.
 */
export function loadTrained(rec: TrainedRecord, numClasses: number, data = rec.data ?? "the data"): VisionModel {
  const base = createModel(rec.model, { numClasses });
  const model = rec.method ? applyMethod(base, rec.method).model : base;
  const { tensors } = readSafetensors(rec.file, rec.read);
  try {
    const report = loadPretrained(model, tensors);
    if (report.headReset) throw new PftError("checkpoint", `${rec.file} has ${report.headReset.checkpointClasses} classes, ${data} has ${report.headReset.modelClasses}`);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tensors.forEach((t) => t.dispose());
  }
  return model;
}
