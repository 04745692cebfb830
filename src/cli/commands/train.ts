// pft pretrain / finetune / eval / models: training runs from the command line.
import { PftError } from "../../errors.js";
import { listModels } from "../../models/index.js";
import { loadDataset, describeDataset } from "../../data/index.js";
import { runTraining, readTrained, loadTrained, defaultPrecision, evaluate, buildLoaders, trainConfig, type TrainConfig } from "../../train/index.js";
import { METHOD_OPTIONS, methodSpec, type MethodSpec } from "../../peft/index.js";
import type { FlagSpecs, FlagValues } from "../args.js";
import type { Command } from "../command.js";
import { robustnessFlags, runRobustEval } from "./robust.js";
import { argsYaml } from "../config-file.js";
import { validateTrainingFlags } from "../validate.js";

const trainingFlags: FlagSpecs = {
  config: { type: "string", help: "a YAML or JSON file of these options (keys: option names); command-line options override it" },
  data: { type: "string", help: "dataset: mnist, fashion-mnist, digits, cifar10:DIR, cifar100:DIR, folder:DIR" },
  out: { type: "string", help: "run directory (checkpoints, metrics, weights, result.json)" },
  // epochs and warmup-epochs have no parser default, so an explicit one can be told apart from --steps / --warmup-steps.
  epochs: { type: "integer", help: "epochs (default 10)" },
  steps: { type: "integer", help: "train exactly this many optimizer steps instead of --epochs (the last epoch may be partial)" },
  "batch-size": { type: "integer", default: 64, help: "images per step" },
  lr: { type: "number", default: 1e-3, help: "peak learning rate (AdamW, warm-up then cosine)" },
  "min-lr": { type: "number", default: 1e-6, help: "end of the cosine decay" },
  "warmup-epochs": { type: "number", help: "linear warm-up length in epochs (default 1)" },
  "warmup-steps": { type: "integer", help: "linear warm-up length in optimizer steps, instead of --warmup-epochs" },
  "weight-decay": { type: "number", default: 0.05, help: "AdamW weight decay (not on 1-d params and tokens)" },
  "clip-grad": { type: "number", default: 0, help: "clip the global gradient norm (0: off)" },
  "label-smoothing": { type: "number", default: 0.1, help: "label smoothing" },
  mixup: { type: "number", default: 0, help: "mixup alpha (0: off)" },
  cutmix: { type: "number", default: 0, help: "cutmix alpha (0: off)" },
  ema: { type: "number", default: 0, help: "EMA decay of the weights (0: off)" },
  aa: { type: "string", help: "RandAugment as timm's config string, e.g. rand-m9-mstd0.5-inc1 (default: none)" },
  reprob: { type: "number", help: "random-erasing probability, timm's mode 'pixel' (default 0: off)" },
  "layer-decay": { type: "number", help: "layer-wise lr decay D in (0, 1] (timm's): block i of L trains at lr * D^(L-1-i), the head at lr" },
  precision: { type: "string", help: "bf16 (default where the CPU has native bf16) or fp32" },
  seed: { type: "integer", default: 0, help: "seed of initialisation, data order, augmentation and dropout" },
  val: { type: "number", default: 0.1, help: "fraction of the training split held out for validation" },
  "split-seed": { type: "integer", default: 0, help: "seed of the validation split and few-shot subset" },
  "train-per-class": { type: "integer", help: "few-shot: training images per class" },
  "drop-path": { type: "number", help: "stochastic depth rate" },
  "no-resume": { type: "boolean", help: "start over even if --out holds a checkpoint" },
  quiet: { type: "boolean", help: "no progress output" },
};

function configFrom(f: FlagValues): Partial<TrainConfig> {
  validateTrainingFlags(f);
  for (const [a, b] of [["steps", "epochs"], ["warmup-steps", "warmup-epochs"]]) {
    if (f[a] !== undefined && f[b] !== undefined) throw new PftError("argument", `--${a} and --${b} exclude each other: give one`);
  }
  if (f.steps !== undefined && (f.steps as number) < 1) throw new PftError("argument", `--steps needs a positive number of optimizer steps, got ${f.steps}`);
  if (f["warmup-steps"] !== undefined && (f["warmup-steps"] as number) < 0) throw new PftError("argument", `--warmup-steps needs a number of steps >= 0, got ${f["warmup-steps"]}`);
  return {
    epochs: f.epochs as number | undefined,
    steps: f.steps as number | undefined,
    batchSize: f["batch-size"] as number,
    lr: f.lr as number,
    minLr: f["min-lr"] as number,
    warmupEpochs: f["warmup-epochs"] as number | undefined,
    warmupSteps: f["warmup-steps"] as number | undefined,
    weightDecay: f["weight-decay"] as number,
    clipGrad: f["clip-grad"] as number,
    labelSmoothing: f["label-smoothing"] as number,
    mixup: f.mixup as number,
    cutmix: f.cutmix as number,
    ema: f.ema as number,
    autoAugment: f.aa as string | undefined,
    reprob: f.reprob as number | undefined,
    layerDecay: f["layer-decay"] as number | undefined,
    precision: f.precision as TrainConfig["precision"] | undefined,
    seed: f.seed as number,
  };
}

/** The parameter-efficient baselines' flags (src/peft), shared with `pft params`. */
export const methodFlags: FlagSpecs = {
  method: { type: "string", help: "a parameter-efficient baseline instead of a strategy: adapter, vpt, ssf, lora, or linear (= --strategy linear)" },
  ...Object.fromEntries(METHOD_OPTIONS.map((o) => [o.cli, { type: o.type, help: o.help }])),
};

/** The method and its options from methodFlags, or undefined without --method (its options alone are an error). */
export function methodFrom(f: FlagValues): MethodSpec | undefined {
  const opts = Object.fromEntries(METHOD_OPTIONS.map((o) => [o.flag, f[o.cli]]));
  if (f.method === undefined) {
    const stray = Object.keys(methodFlags).find((k) => k !== "method" && f[k] !== undefined);
    if (stray) throw new PftError("argument", `--${stray} needs --method`);
    return undefined;
  }
  return methodSpec(String(f.method), opts);
}

const need = (f: FlagValues, name: string): string => {
  const v = f[name];
  if (typeof v !== "string" || !v) throw new PftError("argument", `--${name} is required`);
  return v;
};

function runCommand(f: FlagValues, specs: FlagSpecs, extra: { model?: string; from?: string; strategy?: string; plan?: string; method?: MethodSpec; merge?: boolean }): void {
  const result = runTraining({
    data: need(f, "data"),
    out: need(f, "out"),
    ...extra,
    val: f.val as number,
    splitSeed: f["split-seed"] as number,
    trainPerClass: f["train-per-class"] as number | undefined,
    dropPath: f["drop-path"] as number | undefined,
    config: configFrom(f),
    args: argsYaml(f, specs),
    resume: !f["no-resume"],
    log: f.quiet ? () => {} : undefined,
    progress: f.quiet ? { start() {}, tick() {}, end() {} } : undefined,
  });
  console.log(JSON.stringify({ out: result.out, model: result.model, strategy: result.strategy, ...(result.method ? { method: result.method } : {}), seed: result.seed, trainable: result.trainable, total: result.total, testAcc: result.test.acc, bestValAcc: result.best?.acc ?? null }));
}

export const pretrain: Command = {
  summary: "train a small model from scratch (pft's stand-in for downloading pretrained weights)",
  usage: "pft pretrain --model vit_micro_patch4_28 --data fashion-mnist --out runs/pre [--epochs 10 | --steps N] [--seed 0] ...",
  flags: { model: { type: "string", help: "registered model (pft models)" }, ...trainingFlags },
  run(_p, f) {
    runCommand(f, pretrain.flags, { model: need(f, "model") });
  },
};

export const finetune: Command = {
  summary: "fine-tune pretrained weights fully or partially (a strategy or a plan), or with a parameter-efficient method",
  usage: [
    "pft finetune --from runs/pre --data mnist --strategy attn|ffn|...|fapft-plan --out runs/ft [--plan plan.json] ...",
    "       pft finetune --from runs/pre --data mnist --method adapter|vpt|ssf|lora|linear --out runs/ft [--adapter-reduction 64 | --prompts 50 | --lora-rank 8 --lora-alpha 8 --lora-targets qkv,proj,fc1,fc2] [--merge] ...",
  ].join("\n"),
  flags: {
    from: { type: "string", help: "pretrained weights: a .safetensors file or a run directory" },
    model: { type: "string", help: "model name (default: the one recorded in --from)" },
    strategy: { type: "string", help: "full (the default), attn, ffn, attn-first-half, ..., linear, or the paper's letter A-I" },
    plan: { type: "string", help: "a plan file from pft plan (overrides --strategy)" },
    ...methodFlags,
    merge: { type: "boolean", help: "ssf, lora: also write merged.safetensors, the plain model with the method folded in" },
    ...trainingFlags,
  },
  run(_p, f) {
    const method = methodFrom(f);
    if (method && (f.strategy !== undefined || f.plan !== undefined)) throw new PftError("argument", "--method replaces --strategy and --plan: give one of them");
    runCommand(f, finetune.flags, { from: need(f, "from"), model: f.model as string | undefined, strategy: f.strategy as string | undefined, plan: f.plan as string | undefined, method, merge: f.merge === true });
  },
};

export const evalCommand: Command = {
  summary: "top-1 accuracy and loss of weights on a dataset split",
  usage: "pft eval --ckpt runs/ft [--data mnist] [--split test|val|train] [--json]\n       pft eval --ckpt runs/ft --robustness [--c-per-class 100] [--c-seed 0] [--extras] [--ood digits] [--json]",
  flags: {
    ckpt: { type: "string", help: "weights: a .safetensors file or a run directory" },
    model: { type: "string", help: "model name (default: the one recorded in the weights)" },
    data: { type: "string", help: "dataset (default: the one recorded in the weights)" },
    split: { type: "string", default: "test", help: "test, val or train" },
    "batch-size": { type: "integer", default: 256, help: "images per batch" },
    seed: { type: "integer", help: "seed of the validation split (default: the one the run recorded, else 0)" },
    json: { type: "boolean", help: "print JSON" },
    "allow-nonfinite": { type: "boolean", help: "forensics: evaluate weights holding NaN/Inf instead of refusing them" },
    ...robustnessFlags,
  },
  run(_p, f) {
    const rec = readTrained(need(f, "ckpt"), { model: f.model as string | undefined, data: f.data as string | undefined }, { allowNonfinite: f["allow-nonfinite"] === true });
    const { model: modelName, data, method: spec } = rec;
    if (!data) throw new PftError("config", `${rec.file} does not record its dataset: pass --data`);
    // The validation split the run held out: its recorded fraction and split seed (--seed overrides the seed).
    const splits = loadDataset(data, { seed: (f.seed as number | undefined) ?? rec.split.splitSeed, val: rec.split.val });
    const model = loadTrained(rec, splits.train.classes.length, data);
    const cfg = trainConfig({ batchSize: f["batch-size"] as number, precision: defaultPrecision() });
    if (f.robustness || f.ood !== undefined) return runRobustEval(model, { weights: rec.file, model: modelName, data, splits, bf16: cfg.precision === "bf16", batchSize: cfg.batchSize }, f);
    const loaders = buildLoaders(splits, model, cfg, { evalBatchSize: cfg.batchSize });
    const split = f.split as string;
    const loader = split === "test" ? loaders.test : split === "val" ? loaders.val : split === "train" ? buildLoaders(splits, model, cfg, { augment: false }).train : null;
    if (!loader) throw new PftError("argument", `unknown or empty split '${split}' (test, val or train)`);
    const r = evaluate(model, loader, cfg.precision === "bf16");
    const out = { weights: rec.file, model: modelName, ...(spec ? { method: spec } : {}), data, split, acc: r.acc, loss: r.loss, n: r.n };
    if (f.json) console.log(JSON.stringify(out));
    else console.log(`${modelName} on ${describeDataset(loader.dataset)}: top-1 ${(r.acc * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
  },
};

export const models: Command = {
  summary: "list the registered models",
  usage: "pft models [--json]",
  flags: { json: { type: "boolean", help: "print JSON" } },
  run(_p, f) {
    const list = listModels().map((m) => ({ name: m.name, arch: m.arch, description: m.description }));
    if (f.json) console.log(JSON.stringify(list, null, 2));
    else for (const m of list) console.log(`${m.name.padEnd(32)} ${m.arch.padEnd(9)} ${m.description}`);
  },
};
