// SGD with momentum, dampening, Nesterov and (coupled, L2) weight decay, exactly
// torch.optim.SGD 1.13's single-tensor path (foreach=False, maximize=False).
import type { Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Optimizer, type HyperValue, type ParamState } from "./optimizer.js";
import type { OptimizerGroup, ParamGroup } from "./param-groups.js";

export interface SGDOptions {
  /** Required, as in torch. */
  lr: number;
  /** Default 0 (no momentum buffer, no state). */
  momentum: number;
  /** Default 0. */
  dampening: number;
  /** L2 penalty added to the gradient; default 0. */
  weightDecay: number;
  /** Default false; needs momentum > 0 and dampening 0. */
  nesterov: boolean;
}

export class SGD extends Optimizer {
  readonly kind = "sgd" as const;
  #momentum: number;
  #dampening: number;
  #nesterov: boolean;

  constructor(groups: readonly ParamGroup[], options: Partial<SGDOptions> & { lr: number }) {
    const o: SGDOptions = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options };
    super(groups, o);
    [this.#momentum, this.#dampening, this.#nesterov] = checkSGD(o.momentum, o.dampening, o.nesterov, "argument");
  }

  get momentum(): number {
    return this.#momentum;
  }
  get dampening(): number {
    return this.#dampening;
  }
  get nesterov(): boolean {
    return this.#nesterov;
  }

  // torch 1.13 _single_tensor_sgd:
  //   if weight_decay != 0: d_p = d_p.add(param, alpha=weight_decay)
  //   if momentum != 0:
  //     buf = clone(d_p) on the first step, else buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
  //     d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
  //   param.add_(d_p, alpha=-lr)
  protected update(group: OptimizerGroup, param: Tensor, grad: Tensor, state: ParamState): void {
    let dp = grad;
    if (group.weightDecay !== 0) dp = dp.add(param, group.weightDecay);
    const m = this.#momentum;
    if (m !== 0) {
      let buf = state.tensors.momentum_buffer;
      if (buf === undefined) {
        buf = dp.clone().keep();
        state.tensors.momentum_buffer = buf;
      } else {
        buf.mul_(m).add_(dp, 1 - this.#dampening);
      }
      dp = this.#nesterov ? dp.add(buf, m) : buf;
    }
    param.add_(dp, -group.lr);
  }

  protected stateKeys(): readonly string[] {
    return this.#momentum !== 0 ? ["momentum_buffer"] : [];
  }
  protected hyper(): Record<string, HyperValue> {
    return { momentum: this.#momentum, dampening: this.#dampening, nesterov: this.#nesterov };
  }
  protected checkHyper(h: Record<string, HyperValue>): void {
    checkSGD(h.momentum as number, h.dampening as number, h.nesterov as boolean, "checkpoint");
    if ((h.momentum !== 0) !== (this.#momentum !== 0)) {
      throw new PftError("checkpoint", `SGD state has momentum ${h.momentum}, this optimizer has ${this.#momentum}: momentum buffers do not match`);
    }
  }
  protected setHyper(h: Record<string, HyperValue>): void {
    [this.#momentum, this.#dampening, this.#nesterov] = checkSGD(h.momentum as number, h.dampening as number, h.nesterov as boolean, "checkpoint");
  }
}

function checkSGD(momentum: unknown, dampening: unknown, nesterov: unknown, code: "argument" | "checkpoint"): [number, number, boolean] {
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  if (!num(momentum)) throw new PftError(code, `SGD momentum must be a finite number >= 0, got ${momentum}`);
  if (!num(dampening)) throw new PftError(code, `SGD dampening must be a finite number >= 0, got ${dampening}`);
  if (typeof nesterov !== "boolean") throw new PftError(code, `SGD nesterov must be a boolean, got ${nesterov}`);
  if (nesterov && ((momentum as number) <= 0 || dampening !== 0)) {
    throw new PftError(code, "SGD nesterov momentum requires a momentum > 0 and zero dampening");
  }
  return [momentum as number, dampening as number, nesterov];
}
