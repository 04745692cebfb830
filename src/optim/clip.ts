// Gradient clipping by global norm, exactly torch.nn.utils.clip_grad_norm_ 1.13.
import { noGrad, scope, stack, type Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { NamedParameter, Parameter } from "../nn/parameter.js";
import { paramsOf } from "./optimizer.js";

/**
 * Scales all gradients in place so that their global `normType`-norm is at most `maxNorm`, and
 * returns that norm (before clipping). Parameters without a gradient (frozen ones) are ignored;
 * with no gradients at all it returns 0. As torch 1.13, in float32 tensors:
 *
 *   total_norm = norm(stack([norm(g, p) for g in grads]), p)     (p = inf: max of max|g|)
 *   clip_coef  = clamp(max_norm / (total_norm + 1e-6), max=1)    (max_norm / t is t.reciprocal() * max_norm)
 *   g.mul_(clip_coef) for every g                                (also when clip_coef is 1)
 */
export function clipGradNorm(params: Iterable<NamedParameter | Parameter>, maxNorm: number, normType = 2): number {
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) throw new PftError("argument", `clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  if (typeof normType !== "number" || !(normType > 0)) throw new PftError("argument", `clipGradNorm: normType must be > 0 (or Infinity), got ${normType}`);
  const ps = paramsOf(params);
  return noGrad(() =>
    scope(() => {
      const grads = ps.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      let total: Tensor;
      if (normType === Infinity) {
        const norms = grads.map((g) => g.abs().amax());
        total = norms.length === 1 ? norms[0] : stack(norms).amax();
      } else {
        // torch.norm(g, p) reduces over the explicit list of all dims (_VF.norm(g, p, dim=[0..n-1])).
        total = stack(grads.map((g) => g.norm(normType, allDims(g)))).norm(normType, [0]);
      }
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1.0);
      for (const g of grads) g.mul_(coef);
      return total.item();
    }),
  );
}

const allDims = (t: Tensor): number[] | undefined => (t.ndim === 0 ? undefined : Array.from({ length: t.ndim }, (_, i) => i));
