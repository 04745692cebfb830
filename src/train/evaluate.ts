// Top-1 accuracy and mean cross-entropy over a batch source, in eval mode without autograd.
import { F, autocast, noGrad, scope } from "../engine/index.js";
import type { VisionModel } from "../models/index.js";
import type { BatchSource } from "./trainer.js";

export interface EvalResult {
  acc: number;
  loss: number;
  n: number;
}

export function evaluate(model: VisionModel, data: BatchSource, bf16: boolean, epoch = 0): EvalResult {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  let n = 0;
  try {
    for (const batch of data.batches(epoch)) {
      scope(() =>
        noGrad(() => {
          const logits = autocast(() => model.forward(batch.x), { enabled: bf16 }).float();
          const labels = batch.y.dtype === "int64" ? batch.y : batch.y.argmax(1);
          const b = batch.x.size(0);
          lossSum += F.crossEntropy(logits, labels, { reduction: "sum" }).item();
          correct += logits.argmax(1).eq(labels).sum().item();
          n += b;
        }),
      );
      batch.x.dispose();
      batch.y.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return { acc: n ? correct / n : 0, loss: n ? lossSum / n : 0, n };
}
