// The study's presets. `quick` exercises every step on tiny data (CI, <= 5 minutes on 2 cores);
// `default` is the paper's experiments scaled to about 21 minutes on 2 idle cores. docs/study.md
// justifies the design and lists measured times.
//
// Source and targets: pretrain on MNIST; fine-tune on the sklearn 8x8 digits (the same concept,
// drawn another way and upscaled from 8x8) and on few-shot Fashion-MNIST (another domain). Which
// target is easy is measured (appendix B.2), not assumed.
//
// FAPFT top-k (the study's Table 7): Table 7 fine-tunes 4 of ViT-B's 12 units per group, a third;
// here 2 of 6. For multi-stage models it keeps the early stages whole on easy datasets and frozen
// on hard ones, and tunes about a third of the deep stage(s): Swin-micro [2, 4] -> easy [2, 1],
// hard [0, 2]; ConvNeXt-micro [2, 2, 2, 2] -> easy [2, 2, 1, 1], hard [0, 0, 1, 2].
import { PftError } from "../errors.js";
import type { ConfigLibrary, ModelConfig, StudyConfig, TargetConfig } from "./config.js";

const ALL_STRATEGIES = ["full", "attn", "ffn", "attn-first-half", "attn-last-half", "ffn-first-half", "ffn-last-half", "blocks-first-half", "blocks-last-half", "linear"];
const ALL_METHODS = ["adapter", "vpt", "ssf", "lora"];

/** What a model entry of a config file starts from when its key is new. */
export const MODEL_TEMPLATE: Partial<ModelConfig> = {
  pretrain: {},
  finetune: {},
  strategies: ALL_STRATEGIES,
  methods: ALL_METHODS,
  methodOptions: {},
  seeds: null,
  consistency: true,
  soups: true,
  ablation: true,
};

/** The small models for 28x28 grayscale, with the study's Table 7 and the baselines scaled to them. */
export const MODELS: Readonly<Record<"vit" | "swin" | "convnext", ModelConfig>> = {
  vit: {
    ...(MODEL_TEMPLATE as ModelConfig),
    key: "vit",
    name: "vit_micro_patch4_28",
    fapftTopk: { easy: [2], hard: [2] },
    ablationTopk: [[1], [2], [3], [4], [5]],
    soupTopk: [[1], [2], [3], [4], [5]],
    // 96 channels and 49 tokens: a 12-wide adapter (ViT-B's width, 1/8 here), 8 prompts per layer, LoRA rank 4.
    methodOptions: { adapterReduction: 8, prompts: 8, loraRank: 4, loraAlpha: 4 },
  },
  swin: {
    ...(MODEL_TEMPLATE as ModelConfig),
    key: "swin",
    name: "swin_micro_patch2_window7_28",
    fapftTopk: { easy: [2, 1], hard: [0, 2] },
    ablationTopk: [[0, 1], [0, 2], [0, 3]],
    soupTopk: [[0, 1], [0, 2], [0, 3]],
    methodOptions: { adapterReduction: 4, loraRank: 4, loraAlpha: 4 },
  },
  convnext: {
    ...(MODEL_TEMPLATE as ModelConfig),
    key: "convnext",
    name: "convnext_micro_28",
    fapftTopk: { easy: [2, 2, 1, 1], hard: [0, 0, 1, 2] },
    ablationTopk: [[0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 2, 2]],
    soupTopk: [[0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 2, 2]],
    methodOptions: { adapterReduction: 4, loraRank: 4, loraAlpha: 4 },
  },
};

const TARGETS: Readonly<Record<"digits" | "fashion", TargetConfig>> = {
  digits: { key: "digits", data: "digits", trainPerClass: 20, val: 100, testPerClass: null, trainPool: null, difficulty: "auto" },
  fashion: { key: "fashion", data: "fashion-mnist", trainPerClass: 20, val: 100, testPerClass: 200, trainPool: 500, difficulty: "auto" },
};

/** Entries a config file can name by key, and the templates for new ones (mergeConfig). */
export const LIBRARY: ConfigLibrary = {
  models: { known: Object.values(MODELS), template: MODEL_TEMPLATE },
  targets: { known: Object.values(TARGETS), template: { trainPerClass: null, val: 0.1, testPerClass: null, trainPool: null, difficulty: "auto" } },
};

const vit = (o: Partial<ModelConfig> = {}): ModelConfig => ({ ...MODELS.vit, ...o });

const QUICK: StudyConfig = {
  preset: "quick",
  source: { key: "mnist", data: "mnist", trainPerClass: 100, val: 100, testPerClass: 30, trainPool: null, train: { epochs: 3, batchSize: 32, lr: 2e-3, warmupEpochs: 0.5 } },
  targets: [
    { ...TARGETS.digits, trainPerClass: 20, val: 50 },
    { ...TARGETS.fashion, trainPerClass: 20, val: 50, testPerClass: 20, trainPool: 60 },
  ],
  models: [vit({ ablationTopk: [[1], [2]], soupTopk: [[1], [2]] })],
  finetune: { epochs: 3, batchSize: 32, lr: 2e-3, warmupEpochs: 0.5 },
  seeds: [0],
  consistency: { lr: [1e-3], epochs: [1] },
  soups: { fft: [{ lr: null, seed: 0 }, { lr: 1e-3, seed: 0 }], method: "uniform" },
  robustness: { target: "digits", ood: "mnist", perClass: 2, seed: 0 },
  // Every method once, in a few tiny steps: the numbers only show that the step works.
  cost: { batch: 8, warmup: 1, reps: 2, rounds: 1, threads: 1 },
};

// About 21 minutes on 2 idle cores (docs/study.md has the measured run): the
// whole design for the ViT with 3 seeds; Swin and ConvNeXt with one seed and without the top-k
// ablation and the soups.
const DEFAULT: StudyConfig = {
  preset: "default",
  source: { key: "mnist", data: "mnist", trainPerClass: 1000, val: 500, testPerClass: 200, trainPool: null, train: { epochs: 5, batchSize: 64, lr: 2e-3, warmupEpochs: 1 } },
  targets: [TARGETS.digits, TARGETS.fashion],
  models: [vit(), { ...MODELS.swin, seeds: [0], ablation: false, soups: false }, { ...MODELS.convnext, seeds: [0], ablation: false, soups: false }],
  finetune: { epochs: 10, batchSize: 32, lr: 2e-3, warmupEpochs: 1 },
  seeds: [0, 1, 2],
  consistency: { lr: [1e-3], epochs: [5] },
  soups: { fft: [{ lr: null, seed: 0 }, { lr: null, seed: 1 }, { lr: null, seed: 2 }, { lr: 1e-3, seed: 0 }, { lr: 3e-3, seed: 1 }], method: "uniform" },
  robustness: { target: "digits", ood: "mnist", perClass: 10, seed: 0 },
  cost: { batch: null, warmup: 2, reps: 8, rounds: 2, threads: 1 },
};

export const PRESETS: Readonly<Record<string, StudyConfig>> = { quick: QUICK, default: DEFAULT };

export function presetConfig(name: string): StudyConfig {
  const p = PRESETS[name];
  if (!Object.hasOwn(PRESETS, name) || !p) throw new PftError("argument", `unknown study preset '${name}' (known: ${Object.keys(PRESETS).join(", ")})`);
  return structuredClone(p);
}
