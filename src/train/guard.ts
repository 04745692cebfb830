// What makes an epoch's state good enough to keep: finite weights and, with a validation split, a
// finite validation loss. A run whose epoch fails this stops before anything of that epoch is
// written, so the run directory's checkpoint (and best.safetensors) stay those of a good epoch.
import { scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import type { EvalResult } from "./evaluate.js";

/** PftError("numeric") when epoch `epoch` (1-based) left non-finite weights or a non-finite validation loss. */
export function assertGoodEpoch(model: VisionModel, val: EvalResult | null, epoch: number, kept: string): void {
  if (val && !Number.isFinite(val.loss)) throw new PftError("numeric", `validation loss is ${val.loss} at epoch ${epoch}: stopping${kept}`);
  for (const { name, param } of model.namedParameters()) {
    // A sum is non-finite whenever one value is (NaN and Inf propagate); overflow of a finite sum is told apart by max |w|.
    const finite = scope(() => Number.isFinite(param.value.sum().item()) || Number.isFinite(param.value.abs().amax().item()));
    if (!finite) throw new PftError("numeric", `weight '${name}' is not finite after epoch ${epoch}: stopping${kept}`);
  }
}
