// The gradient a selector sees at the pretrained weights (Surgical Fine-Tuning's Auto-RGN): the
// mean gradient of the training loss over the first few batches, every parameter trainable, no
// optimizer step. What it costs is a few forward and backward passes, counted in steps so the
// study can state it as a fraction of one full fine-tune.
import { F, autocast, noGrad, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import type { BatchSource } from "./trainer.js";

export interface GradientNorms {
  /** Per parameter, ‖ḡ‖² of the mean gradient over the batches. */
  gradSq: Map<string, number>;
  /** Per parameter, ‖w‖² of the weights the gradient was taken at. */
  weightSq: Map<string, number>;
  /** Forward and backward passes made (batches). */
  steps: number;
  images: number;
}

/**
 * ‖ḡ‖² and ‖w‖² per parameter, ḡ the mean over `batches` batches of epoch 0 of the gradient of
 * the cross-entropy (the model in train mode, as training would see it). The model's weights are
 * not changed; its requires-grad flags are restored and its gradients cleared afterwards.
 */
export function gradientNorms(model: VisionModel, source: BatchSource, opts: { batches: number; bf16: boolean }): GradientNorms {
  if (!(Number.isInteger(opts.batches) && opts.batches >= 1)) throw new PftError("config", `gradient score: batches must be a whole number >= 1, got ${opts.batches}`);
  const named = model.namedParameters();
  const wasTrainable = named.map((n) => n.param.trainable);
  model.unfreezeAll();
  model.zeroGrad();
  model.train();
  let steps = 0;
  let images = 0;
  try {
    for (const batch of source.batches(0)) {
      scope(() => {
        const logits = autocast(() => model.forward(batch.x), { enabled: opts.bf16 }).float();
        const loss = F.crossEntropy(logits, batch.y);
        if (!Number.isFinite(loss.item())) throw new PftError("numeric", `gradient score: the loss is not finite at batch ${steps + 1}`);
        loss.backward();
      });
      images += batch.x.size(0);
      batch.x.dispose();
      batch.y.dispose();
      if (++steps === opts.batches) break;
    }
    if (steps === 0) throw new PftError("data", "gradient score: the training split gave no batch");
    const gradSq = new Map<string, number>();
    const weightSq = new Map<string, number>();
    noGrad(() =>
      scope(() => {
        for (const { name, param } of named) {
          const g = param.grad;
          // backward summed the batches' gradients: the mean is the sum / steps.
          gradSq.set(name, g ? g.double().pow(2).sum().item() / (steps * steps) : 0);
          weightSq.set(name, param.value.double().pow(2).sum().item());
        }
      }),
    );
    return { gradSq, weightSq, steps, images };
  } finally {
    model.zeroGrad();
    named.forEach((n, i) => (n.param.trainable = wasTrainable[i]));
  }
}
