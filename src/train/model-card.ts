// Interop files of a finished run directory, for the tools people share weights with:
//   OUT/config.json  timm's hub config (architecture, num_classes, label_names, pretrained_cfg with
//                    input_size, mean/std, classifier), so `timm.create_model("local-dir:OUT")` finds it
//   OUT/README.md    a Hugging Face model card: front matter (library_name: timm, pipeline_tag:
//                    image-classification), base weights and their hash, what trained, results,
//                    and the command that trains it again
import { existsSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { RUN_FILES } from "../files.js";
import { writeFileAtomic, writeJsonAtomic } from "./checkpoint.js";

export interface CardInfo {
  out: string;
  /** The registered model name (timm's architecture name). */
  model: string;
  numClasses: number;
  labels: readonly string[];
  inChans: number;
  imageSize: number;
  mean: readonly number[];
  std: readonly number[];
  /** State-dict keys of the classifier; their common module is timm's `classifier`. */
  classifierKeys: readonly string[];
  data: string;
  /** The weights file fine-tuning started from; absent for pretraining. */
  baseWeights?: string;
  /** SHA-256 of the base weights (the manifest's fromSha256). */
  baseSha256?: string | null;
  /** Strategy, plan or method, as the run records it. */
  strategy: string;
  trainable: number;
  total: number;
  trainableTensors: number;
  seed: number;
  testAcc: number;
  testN: number;
  bestVal: { epoch: number; acc: number } | null;
  steps: number;
  epochs: number;
}

export function timmConfig(c: CardInfo): Record<string, unknown> {
  const classifier = commonPrefix(c.classifierKeys.map((k) => k.replace(/\.(weight|bias)$/, "")));
  return {
    architecture: c.model,
    num_classes: c.numClasses,
    label_names: [...c.labels],
    pretrained_cfg: {
      tag: "pft",
      custom_load: false,
      input_size: [c.inChans, c.imageSize, c.imageSize],
      fixed_input_size: true,
      interpolation: "bilinear",
      crop_pct: 1.0,
      crop_mode: "center",
      mean: [...c.mean],
      std: [...c.std],
      num_classes: c.numClasses,
      classifier,
    },
  };
}

function commonPrefix(names: readonly string[]): string {
  if (names.length === 0) return "head";
  let p = names[0].split(".");
  for (const n of names.slice(1)) {
    const q = n.split(".");
    let i = 0;
    while (i < p.length && p[i] === q[i]) i++;
    p = p.slice(0, i);
  }
  return p.join(".") || "head";
}

export function modelCard(c: CardInfo): string {
  const front = stringify({ library_name: "timm", pipeline_tag: "image-classification", tags: ["image-classification", "timm", "pft"], license: "mit" });
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const base = c.baseWeights ? `\`${c.baseWeights}\` (sha256 \`${c.baseSha256 ?? "not recorded"}\`)` : "none: trained from scratch";
  const command = c.baseWeights ? "finetune" : "pretrain";
  const reproduce = existsSync(join(c.out, RUN_FILES.args)) ? `npx pft ${command} --config ${join(c.out, RUN_FILES.args)}` : `npx pft ${command} (the options are in run.json)`;
  return [
    "---",
    front.trimEnd(),
    "---",
    "",
    `# ${c.model} on ${c.data}`,
    "",
    "Trained with pft (partial fine-tuning of vision transformers); the weights use timm's parameter names.",
    "",
    "## Training",
    "",
    `- Base weights: ${base}`,
    `- What trained: ${c.strategy}, ${c.trainable.toLocaleString("en")} of ${c.total.toLocaleString("en")} parameters (${pct(c.trainable / c.total)}) in ${c.trainableTensors} tensors`,
    `- Data: ${c.data}, ${c.numClasses} classes; ${c.steps} optimizer steps over ${c.epochs} epochs; seed ${c.seed}`,
    "",
    "## Results",
    "",
    `| split | top-1 |`,
    `| --- | --- |`,
    `| test (${c.testN} images) | ${pct(c.testAcc)} |`,
    ...(c.bestVal ? [`| validation (best, epoch ${c.bestVal.epoch}) | ${pct(c.bestVal.acc)} |`] : []),
    "",
    "## Reproduce",
    "",
    "```",
    reproduce,
    "```",
    "",
    `Input: ${c.inChans}x${c.imageSize}x${c.imageSize}, normalised with mean ${JSON.stringify(c.mean)} and std ${JSON.stringify(c.std)} (config.json).`,
    "",
  ].join("\n");
}

export function writeInteropFiles(c: CardInfo): void {
  writeJsonAtomic(join(c.out, RUN_FILES.hubConfig), timmConfig(c));
  writeFileAtomic(join(c.out, RUN_FILES.card), modelCard(c));
}
