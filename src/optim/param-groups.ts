// Parameter groups: which parameters an optimizer updates, and with which lr / weight decay.
//
// A group lists NamedParameters; lr and weightDecay fall back to the optimizer's defaults.
// Frozen parameters may sit in a group: optimizers skip them (no state, never touched).
import type { NamedParameter } from "../nn/parameter.js";
import { PftError } from "../errors.js";

export interface ParamGroup {
  params: NamedParameter[];
  /** Overrides the optimizer's default lr for this group. */
  lr?: number;
  /** Overrides the optimizer's default weight decay for this group. */
  weightDecay?: number;
  /** Multiplies the lr set by `Optimizer.setLr` (layer-wise lr decay, as timm's `lr_scale`); default 1. */
  lrScale?: number;
}

/** A group inside an optimizer: its parameters and its current hyper-parameters. */
export class OptimizerGroup {
  readonly params: readonly NamedParameter[];
  readonly lrScale: number;
  #lr: number;
  #weightDecay: number;

  constructor(params: readonly NamedParameter[], lr: number, weightDecay: number, lrScale: number) {
    this.params = params;
    this.#lr = checkNonNegative(lr, "lr");
    this.#weightDecay = checkNonNegative(weightDecay, "weightDecay");
    this.lrScale = checkNonNegative(lrScale, "lrScale");
  }

  get lr(): number {
    return this.#lr;
  }
  set lr(v: number) {
    this.#lr = checkNonNegative(v, "lr");
  }
  get weightDecay(): number {
    return this.#weightDecay;
  }
  set weightDecay(v: number) {
    this.#weightDecay = checkNonNegative(v, "weightDecay");
  }
}

export function checkNonNegative(v: number, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new PftError("argument", `${what} must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/**
 * timm's `param_groups_weight_decay`: trainable parameters split into a no-decay group (ndim <= 1,
 * names ending in ".bias", names in `noDecayNames` such as the model's `pos_embed` / `cls_token`)
 * and a decay group. Frozen parameters are left out. Returns [noDecay (wd 0), decay (wd)], as timm.
 */
export function paramGroupsWeightDecay(
  named: readonly NamedParameter[],
  weightDecay = 1e-5,
  noDecayNames: Iterable<string> = [],
): [ParamGroup, ParamGroup] {
  checkNonNegative(weightDecay, "weightDecay");
  const skip = new Set(noDecayNames);
  const decay: NamedParameter[] = [];
  const noDecay: NamedParameter[] = [];
  for (const np of named) {
    if (!np.param.trainable) continue;
    if (np.param.shape.length <= 1 || np.name.endsWith(".bias") || skip.has(np.name)) noDecay.push(np);
    else decay.push(np);
  }
  return [
    { params: noDecay, weightDecay: 0 },
    { params: decay, weightDecay },
  ];
}
