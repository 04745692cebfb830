// The logit ensemble of soup ingredients: every soup is compared with it (Wortsman et al. 2022
// compare soups with the output ensemble). Each member is loaded into one model in turn and run
// over the split; the logits are summed in float64 per image, and the ensemble's prediction is
// the argmax of their mean, its loss the cross-entropy of that mean. Memory: images x classes
// float64, one model.
import { autocast, noGrad, scope } from "../engine/index.js";
import type { VisionModel } from "../models/index.js";
import type { BatchSource, EvalResult } from "../train/index.js";

/**
 * Accuracy and mean cross-entropy of the mean logits of `members` over `data`; `load(i)` puts
 * member i's weights into `model`. The data must yield the same images in the same order each pass.
 */
export function evaluateEnsemble(model: VisionModel, members: readonly number[], load: (member: number) => void, data: BatchSource, bf16: boolean): EvalResult {
  if (members.length === 0) throw new RangeError("evaluateEnsemble: no members");
  const wasTraining = model.training;
  model.eval();
  const sums: Float64Array[] = [];
  const labels: Int32Array[] = [];
  let classes = 0;
  try {
    members.forEach((m, pass) => {
      load(m);
      let b = 0;
      for (const batch of data.batches(0)) {
        scope(() =>
          noGrad(() => {
            const logits = autocast(() => model.forward(batch.x), { enabled: bf16 }).float();
            const [n, c] = logits.shape;
            classes = c;
            const v = logits.data() as Float32Array;
            if (pass === 0) {
              sums.push(new Float64Array(n * c));
              const y = batch.y.dtype === "int64" ? batch.y : batch.y.argmax(1);
              labels.push(Int32Array.from(y.data() as BigInt64Array | Float32Array, Number));
            }
            const s = sums[b];
            if (!s || s.length !== v.length) throw new RangeError("evaluateEnsemble: the data changed between passes");
            for (let j = 0; j < v.length; j++) s[j] += v[j];
          }),
        );
        batch.x.dispose();
        batch.y.dispose();
        b++;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  let correct = 0;
  let loss = 0;
  let n = 0;
  const k = members.length;
  sums.forEach((s, b) => {
    const y = labels[b];
    for (let i = 0; i < y.length; i++) {
      let best = 0;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const z = s[i * classes + c] / k;
        if (z > max) {
          max = z;
          best = c;
        }
      }
      let lse = 0;
      for (let c = 0; c < classes; c++) lse += Math.exp(s[i * classes + c] / k - max);
      loss += max + Math.log(lse) - s[i * classes + y[i]] / k;
      if (best === y[i]) correct++;
      n++;
    }
  });
  return { acc: n ? correct / n : 0, loss: n ? loss / n : 0, n };
}
