// Out-of-distribution evaluation, pft's analogue of ImageNet-A/R: a model fine-tuned on one
// dataset evaluated as it is on another with the same label space (MNIST <-> sklearn's 8x8 digits,
// which the evaluation pipeline upscales to the model's input: other writers, thicker strokes, no
// margin around the digit). The head is used as is; the classes must match by name and order.
import { PftError } from "../errors.js";
import { DataLoader, type ImageDataset } from "../data/index.js";
import type { VisionModel } from "../models/index.js";
import { evaluate, evalTransforms } from "../train/index.js";

export interface OodResult {
  /** The shifted split evaluated, e.g. "digits/test". */
  dataset: string;
  n: number;
  /** Top-1 accuracy and mean cross-entropy, fractions as `evaluate` gives them. */
  acc: number;
  loss: number;
}

/** Whether two class lists name the same classes in the same order (trimmed, case-insensitive). */
export function sameLabelSpace(a: readonly string[], b: readonly string[]): boolean {
  const norm = (s: string) => s.trim().toLowerCase();
  return a.length === b.length && a.every((c, i) => norm(c) === norm(b[i]));
}

/**
 * Accuracy of `model` (trained on data with `sourceClasses`) on a shifted dataset with the same
 * label space, through the standard evaluation pipeline. PftError("config") when the classes differ.
 */
export function evaluateOod(model: VisionModel, target: ImageDataset, opts: { sourceClasses: readonly string[]; bf16?: boolean; batchSize?: number }): OodResult {
  if (!sameLabelSpace(opts.sourceClasses, target.classes)) {
    throw new PftError("config", `${target.name} does not share the model's label space: [${target.classes.join(", ")}] vs [${opts.sourceClasses.join(", ")}]`);
  }
  if (model.numClasses !== target.classes.length) throw new PftError("config", `the model has ${model.numClasses} outputs, ${target.name} ${target.classes.length} classes`);
  const loader = new DataLoader(target, { batchSize: opts.batchSize ?? 256, transforms: evalTransforms(target, model) });
  const r = evaluate(model, loader, opts.bf16 ?? false);
  return { dataset: target.name, n: r.n, acc: r.acc, loss: r.loss };
}
