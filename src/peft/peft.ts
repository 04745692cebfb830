// What every parameter-efficient method gives back once applied to a model: the model to train,
// the exact names it trains, and how to fold it into the weights (SSF, LoRA) or take it out.
import { noGrad } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import { StandIn, restoreAll } from "./surgery.js";

export type MethodName = "linear" | "adapter" | "vpt" | "ssf" | "lora";
export type LoraTarget = "qkv" | "proj" | "fc1" | "fc2";

export interface AdapterOptions {
  /** Bottleneck = floor(dim / reduction), at least 1 (64 in the paper's section 4.6: 768 -> 12). */
  reduction: number;
}
export interface VptOptions {
  /** Prompt tokens per layer (50 in the paper's section 4.6). */
  prompts: number;
}
export interface LoraOptions {
  rank: number;
  /** The update is scaled by alpha / rank. */
  alpha: number;
  targets: LoraTarget[];
}

/** A method with all its options resolved (what a run records and `pft eval` rebuilds from). */
export type MethodSpec =
  | { method: "linear" }
  | ({ method: "adapter" } & AdapterOptions)
  | ({ method: "vpt" } & VptOptions)
  | { method: "ssf" }
  | ({ method: "lora" } & LoraOptions);

export interface Peft {
  readonly spec: MethodSpec;
  /** The model to train and evaluate: the same object for module surgery, a wrapper for VPT-Deep. */
  readonly model: VisionModel;
  /** State-dict keys of the parameters the method added, in key order. */
  readonly added: string[];
  /** What trains: the added parameters and the classifier (everything else stays frozen). */
  readonly trainable: string[];
  /** Whether merge() can fold the method into the original weights (SSF, LoRA). */
  readonly mergeable: boolean;
  /**
   * Folds the method into the original layers' weights, puts the original modules back and
   * returns the plain model, whose output equals the method's (up to float rounding). The
   * method's own parameters are freed. PftError("config") for methods that do not merge.
   */
  merge(): VisionModel;
  /** Takes the method out (its parameters freed) and returns the plain model with its original weights. */
  remove(): VisionModel;
}

/** The state-dict keys of the given parameters, in the model's key order. */
export function namesOf(model: VisionModel, params: Set<unknown>): string[] {
  return model.namedParameters().filter((n) => params.has(n.param)).map((n) => n.name);
}

/** Makes exactly `names` trainable (what the trainer does with a job's `trainable`). */
export function freezeAllBut(model: VisionModel, names: readonly string[]): void {
  const keep = new Set(names);
  model.setTrainable((n) => keep.has(n), true);
  model.setTrainable((n) => !keep.has(n), false);
}

/** Throws if the model already carries a method (methods do not stack). */
export function checkPlain(model: VisionModel, method: string): void {
  if (model.modules().some((m) => m instanceof StandIn) || (model as { peftMethod?: string }).peftMethod) {
    throw new PftError("config", `cannot apply ${method}: the model already carries a parameter-efficient method`);
  }
}

/**
 * The Peft of a method made of stand-ins. `fold` writes one stand-in's effect into its base
 * module's weights (under noGrad); null for methods that do not merge.
 */
export function surgeryPeft<S extends StandIn>(spec: MethodSpec, model: VisionModel, placed: Map<string, S>, fold: ((s: S) => void) | null): Peft {
  const own = new Set<unknown>([...placed.values()].flatMap((s) => s.ownParameters()));
  const added = namesOf(model, own);
  const head = new Set(model.classifierKeys());
  const trainable = model.namedParameters().filter((n) => own.has(n.param) || head.has(n.name)).map((n) => n.name);
  freezeAllBut(model, trainable);
  let live = true;
  const finish = (): VisionModel => {
    if (!live) throw new PftError("argument", `${spec.method} was already merged or removed`);
    live = false;
    restoreAll(model, placed);
    return model;
  };
  return {
    spec,
    model,
    added,
    trainable,
    mergeable: fold !== null,
    merge() {
      if (!fold) throw new PftError("config", `${spec.method} cannot be merged into the weights (it is not a per-channel linear map of a layer's output)`);
      if (!live) throw new PftError("argument", `${spec.method} was already merged or removed`);
      noGrad(() => placed.forEach((s) => fold(s)));
      return finish();
    },
    remove: finish,
  };
}
