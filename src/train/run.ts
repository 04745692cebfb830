// A whole training run, as `pft pretrain` / `pft finetune` and the study perform it: load the
// data, build (and for fine-tuning, load) the model, choose what trains, train with resume, then
// evaluate on the held-out test split. Outputs land in one self-describing run directory.
import { join } from "node:path";
import { engineInfo, describeEngine, manualSeed } from "../engine/index.js";
import { PftError } from "../errors.js";
import { loadDataset, describeDataset } from "../data/index.js";
import { createModel, loadPretrained, type VisionModel } from "../models/index.js";
import { writeSafetensors } from "../nn/index.js";
import { RUN_FILES } from "../files.js";
import type { Plan } from "../partial/index.js";
import type { MethodSpec } from "../peft/index.js";
import { trainConfig, type TrainConfig } from "./config.js";
import { buildLoaders, inputNormalization } from "./pipeline.js";
import { writeInteropFiles } from "./model-card.js";
import { train, type TrainResult } from "./trainer.js";
import { evaluate, type EvalResult } from "./evaluate.js";
import { writeFileAtomic, writeJsonAtomic } from "./checkpoint.js";
import { mkdirSync } from "node:fs";
import { defaultPrecision, fileSha256, readWeights, type RunResultRecord } from "./rundir.js";
import { applySelection, selectionOf } from "./selection.js";
import { createProgress, type Progress } from "./progress.js";

export interface RunOptions {
  /** Dataset spec: mnist, fashion-mnist, digits, cifar10:DIR, cifar100:DIR, folder:DIR. */
  data: string;
  /** Registered model name; for fine-tuning defaults to the one recorded in the checkpoint. */
  model?: string;
  /** Pretrained weights (a safetensors file or a run directory); absent for pretraining. */
  from?: string;
  /** What trains: a strategy name/letter, or a plan (a file from `pft plan`, or one made in memory). Default "full". */
  strategy?: string;
  plan?: string | Plan;
  /**
   * A parameter-efficient baseline (src/peft) instead of a strategy or plan: adapter, vpt, ssf,
   * lora; linear is the strategy `linear`. Recorded in the weights' metadata for `pft eval`.
   */
  method?: MethodSpec;
  /** With a mergeable method (ssf, lora), also write merged.safetensors: plain weights with the method folded in. */
  merge?: boolean;
  /** Fraction (or count) of the training split held out for validation. */
  val?: number;
  /** Few-shot: this many training images per class. */
  trainPerClass?: number;
  /**
   * Seed of the validation split and the few-shot subset (default 0), separate from the training
   * seed: runs that differ in seed still share one held-out set (greedy soups need that).
   */
  splitSeed?: number;
  dropPath?: number;
  /** The resolved options as YAML (the CLI's), written as OUT/args.yaml once the run is set up (timm's file). */
  args?: string;
  config: Partial<TrainConfig>;
  out: string;
  resume?: boolean;
  log?: (line: string) => void;
  progress?: Progress;
}

/** What runTraining returns: result.json (rundir.ts: RunResultRecord) with the epochs. */
export interface RunResult extends RunResultRecord {
  test: EvalResult;
  epochs: TrainResult["epochs"];
}

export function runTraining(o: RunOptions): RunResult {
  const log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
  const selection = selectionOf(o);
  if (o.merge && !(o.method?.method === "ssf" || o.method?.method === "lora")) throw new PftError("config", `only ssf and lora merge into the weights${o.method ? `, not ${o.method.method}` : ""}`);
  const info = engineInfo();
  const cfg = trainConfig({ precision: defaultPrecision(info), ...o.config });
  log(describeEngine(info));

  // The weights are read (and their values checked) before the dataset: a bad file is found before the slow part.
  let modelName = o.model;
  let pretrained: ReturnType<typeof readWeights> | null = null;
  if (o.from) {
    pretrained = readWeights(o.from);
    modelName ??= pretrained.metadata.model;
    if (pretrained.metadata.method) throw new PftError("config", `${pretrained.file} holds ${pretrained.metadata.method} weights, not a plain model: fine-tune from the pretrained weights (or a merged.safetensors)`);
    if (!modelName) throw new PftError("config", `${pretrained.file} does not record its model: pass --model`);
  }
  if (!modelName) throw new PftError("config", "no model given: pass --model (pft models lists them)");

  const splitSeed = o.splitSeed ?? 0;
  const splits = loadDataset(o.data, { seed: splitSeed, val: o.val ?? 0.1, trainPerClass: o.trainPerClass });
  log(`data: ${describeDataset(splits.train)}; ${splits.val ? describeDataset(splits.val) + "; " : ""}${describeDataset(splits.test)}`);
  const numClasses = splits.train.classes.length;
  if (numClasses < 2) throw new PftError("data", `${o.data}: ${describeDataset(splits.train)}: a classifier needs at least two classes`);
  // The seed covers initialisation too: a from-scratch model, a re-initialised head and a
  // method's new parameters are drawn from it, so the same command gives the same weights.
  manualSeed(cfg.seed);
  const model: VisionModel = createModel(modelName, { numClasses, dropPathRate: o.dropPath });
  if (pretrained) {
    const report = loadPretrained(model, pretrained.tensors);
    pretrained.tensors.forEach((t) => t.dispose());
    if (report.headReset) log(`head re-initialised: the checkpoint has ${report.headReset.checkpointClasses} classes, ${o.data} has ${report.headReset.modelClasses}`);
  }

  const chosen = applySelection(model, selection, { model: modelName });
  const { peft, plan, name: strategy, model: trained } = chosen;
  const loaders = buildLoaders(splits, trained, cfg);
  log(`model: ${modelName}, ${trained.countParameters().toLocaleString("en")} parameters, ${chosen.count.toLocaleString("en")} trainable (${strategy}); seed ${cfg.seed}, ${cfg.precision}`);

  const fromSha256 = pretrained ? fileSha256(pretrained.file) : null;
  if (o.args !== undefined) {
    mkdirSync(o.out, { recursive: true });
    writeFileAtomic(join(o.out, RUN_FILES.args), o.args);
  }
  const result = train({
    model: trained,
    trainable: chosen.trainable,
    train: loaders.train,
    val: loaders.val,
    config: cfg,
    outDir: o.out,
    resume: o.resume ?? true,
    inputs: { model: modelName, dataset: o.data, from: o.from ?? null, strategy, trainPerClass: o.trainPerClass ?? null, val: o.val ?? 0.1, splitSeed, dropPath: o.dropPath ?? null, plan, ...(peft ? { method: peft.spec } : {}), fromSha256 },
    progress: o.progress ?? createProgress(),
  });
  const test = evaluate(trained, loaders.test, cfg.precision === "bf16");
  const out: RunResult = { out: o.out, model: modelName, strategy, ...(peft ? { method: peft.spec } : {}), seed: cfg.seed, trainable: result.trainable, total: result.total, budget: result.budget, best: result.best, test, epochs: result.epochs };
  writeJsonAtomic(join(o.out, RUN_FILES.result), out);
  writeInteropFiles({ out: o.out, model: modelName, numClasses, labels: splits.train.classes, inChans: model.inChans, imageSize: model.imageSize, ...inputNormalization(model), classifierKeys: model.classifierKeys(), data: o.data, baseWeights: pretrained?.file, baseSha256: fromSha256, strategy, trainable: result.trainable, total: result.total, trainableTensors: trained.trainableParameters().length, seed: cfg.seed, testAcc: test.acc, testN: test.n, bestVal: result.best, steps: result.budget.steps, epochs: result.budget.epochs });
  log(`test accuracy ${(test.acc * 100).toFixed(2)}% on ${test.n} images (best validation ${result.best ? (result.best.acc * 100).toFixed(2) + "% at epoch " + result.best.epoch : "n/a"}); weights: ${join(o.out, RUN_FILES.weights)}`);
  if (peft && o.merge) {
    const merged = peft.merge();
    writeSafetensors(join(o.out, RUN_FILES.merged), merged.stateDict(), { format: "pt", producer: "pft", model: modelName, dataset: o.data, num_classes: String(merged.numClasses), mergedFrom: peft.spec.method });
    log(`merged ${peft.spec.method} into the weights: ${join(o.out, RUN_FILES.merged)}`);
  }
  trained.dispose();
  return out;
}
