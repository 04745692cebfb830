// AdamW (Loshchilov & Hutter), exactly torch.optim.AdamW 1.13's single-tensor path
// (foreach=False, amsgrad=False, maximize=False), op for op, so results match torch bit for bit
// up to the double-precision scalars (beta ** step) that both sides compute on the host.
import type { Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Optimizer, zerosLike, type HyperValue, type ParamState } from "./optimizer.js";
import type { OptimizerGroup, ParamGroup } from "./param-groups.js";

export interface AdamWOptions {
  /** Default 1e-3. */
  lr: number;
  /** Default [0.9, 0.999]. */
  betas: [number, number];
  /** Default 1e-8. */
  eps: number;
  /** Decoupled weight decay; default 1e-2 (torch's default). */
  weightDecay: number;
}

export const ADAMW_DEFAULTS: Readonly<AdamWOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 };

export class AdamW extends Optimizer {
  readonly kind = "adamw" as const;
  #beta1: number;
  #beta2: number;
  #eps: number;

  constructor(groups: readonly ParamGroup[], options: Partial<AdamWOptions> = {}) {
    const o = { ...ADAMW_DEFAULTS, ...options };
    super(groups, o);
    [this.#beta1, this.#beta2, this.#eps] = checkAdamW(o.betas, o.eps, "argument");
  }

  get betas(): [number, number] {
    return [this.#beta1, this.#beta2];
  }
  get eps(): number {
    return this.#eps;
  }

  // torch 1.13 _single_tensor_adamw:
  //   step_t += 1
  //   param.mul_(1 - lr * weight_decay)
  //   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
  //   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
  //   bias_correction1 = 1 - beta1 ** step;  bias_correction2 = 1 - beta2 ** step
  //   step_size = lr / bias_correction1;  bias_correction2_sqrt = math.sqrt(bias_correction2)
  //   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
  //   param.addcdiv_(exp_avg, denom, value=-step_size)
  protected update(group: OptimizerGroup, param: Tensor, grad: Tensor, state: ParamState): void {
    const b1 = this.#beta1;
    const b2 = this.#beta2;
    const lr = group.lr;
    state.tensors.exp_avg ??= zerosLike(param);
    state.tensors.exp_avg_sq ??= zerosLike(param);
    const { exp_avg: expAvg, exp_avg_sq: expAvgSq } = state.tensors;

    param.mul_(1 - lr * group.weightDecay);
    expAvg.mul_(b1).add_(grad, 1 - b1);
    expAvgSq.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const biasCorrection1 = 1 - b1 ** state.step;
    const biasCorrection2 = 1 - b2 ** state.step;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    const denom = expAvgSq.sqrt().div(biasCorrection2Sqrt).add_(this.#eps);
    param.addcdiv_(expAvg, denom, -stepSize);
  }

  protected stateKeys(): readonly string[] {
    return ["exp_avg", "exp_avg_sq"];
  }
  protected hyper(): Record<string, HyperValue> {
    return { betas: [this.#beta1, this.#beta2], eps: this.#eps };
  }
  protected checkHyper(h: Record<string, HyperValue>): void {
    checkAdamW(h.betas as [number, number], h.eps as number, "checkpoint");
  }
  protected setHyper(h: Record<string, HyperValue>): void {
    [this.#beta1, this.#beta2, this.#eps] = checkAdamW(h.betas as [number, number], h.eps as number, "checkpoint");
  }
}

function checkAdamW(betas: unknown, eps: unknown, code: "argument" | "checkpoint"): [number, number, number] {
  const ok = (b: unknown) => typeof b === "number" && b >= 0 && b < 1;
  if (!Array.isArray(betas) || betas.length !== 2 || !ok(betas[0]) || !ok(betas[1])) {
    throw new PftError(code, `AdamW betas must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
  }
  if (typeof eps !== "number" || !(eps >= 0) || !Number.isFinite(eps)) throw new PftError(code, `AdamW eps must be a finite number >= 0, got ${eps}`);
  return [betas[0], betas[1], eps];
}
