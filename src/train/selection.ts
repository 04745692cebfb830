// What trains, decided once: a manual strategy (Fig. 3), a plan (FAPFT's, from `pft plan` or made
// in memory by the study), a list of parameter names, or a parameter-efficient method (src/peft's
// registry). A Selection applies itself to a model and says which parameters train; the trainer,
// the cost measurement (src/robust/cost.ts) and the study use it alike.
import { PftError } from "../errors.js";
import { catalogOf, type VisionModel } from "../models/index.js";
import { FAPFT_LABEL, loadPlan, parseStrategy, planForStrategy, strategyInfo, type Plan, type StrategyId, type StrategyName } from "../partial/index.js";
import { applyMethod, freezeAllBut, methodDef, parseMethod, type MethodSpec, type Peft } from "../peft/index.js";

export type Selection =
  | { kind: "strategy"; strategy: StrategyName }
  /** `source`: the plan file it was read from, or null for a plan given as an object. */
  | { kind: "plan"; plan: Plan; source: string | null }
  /** Exactly these parameters (FAPFT's units resolved by the caller); `name` says what they are. */
  | { kind: "names"; name: string; trainable: readonly string[] }
  | { kind: "method"; spec: MethodSpec };

/** The selection the options name: a method, else a plan (file or object), else a strategy (default full). */
export function selectionOf(o: { strategy?: string; plan?: string | Plan; method?: MethodSpec }): Selection {
  if (o.method && (o.plan !== undefined || o.strategy !== undefined)) throw new PftError("config", "give a method or a strategy/plan, not both");
  // Linear probing is one thing, the strategy `linear`; `--method linear` names it too.
  if (o.method && o.method.method !== "linear") return { kind: "method", spec: o.method };
  if (o.plan !== undefined) return typeof o.plan === "string" ? { kind: "plan", plan: loadPlan(o.plan), source: o.plan } : { kind: "plan", plan: o.plan, source: null };
  const id = parseStrategy(o.method ? "linear" : (o.strategy ?? "full"));
  if (id === "fapft") throw new PftError("config", "FAPFT needs angles: make a plan with `pft plan` from the pretrained and a fully fine-tuned checkpoint, then pass --plan");
  return { kind: "strategy", strategy: id };
}

/** A selection applied to a model. */
export interface Applied {
  /** The model to train: the one given, or the method's wrapper (VPT-Deep). */
  model: VisionModel;
  /** In one word, as run.json and result.json record it: a strategy, `plan:FILE`, or the method's name. */
  name: string;
  /** The parameters that train ("all": full fine-tuning), frozen or not yet; the trainer freezes the rest. */
  trainable: "all" | readonly string[];
  /** How many scalars train. */
  count: number;
  /** The plan it trains (strategies and plans), or null. */
  plan: Plan | null;
  /** The method, once applied (its parameters are part of the model), or null. */
  peft: Peft | null;
}

/** Applies the selection (a method's modules are added; a plan is checked against the model). */
export function applySelection(model: VisionModel, sel: Selection, meta: { model?: string } = {}): Applied {
  switch (sel.kind) {
    case "method": {
      const peft = applyMethod(model, sel.spec);
      return { model: peft.model, name: sel.spec.method, trainable: peft.trainable, count: peft.model.countParameters({ trainableOnly: true }), plan: null, peft };
    }
    case "plan": {
      const plan = sel.source === null ? sel.plan : loadPlan(sel.source, catalogOf(model)); // a file is checked against the model's catalog
      return { model, name: sel.source === null ? `plan:${plan.strategy}` : `plan:${sel.source}`, trainable: plan.trainable, count: plan.counts.trainable, plan, peft: null };
    }
    case "names": {
      const keep = new Set(sel.trainable);
      const count = model.namedParameters().reduce((s, n) => s + (keep.has(n.name) ? n.param.value.numel() : 0), 0);
      return { model, name: sel.name, trainable: sel.trainable, count, plan: null, peft: null };
    }
    case "strategy": {
      const plan = planForStrategy(catalogOf(model), sel.strategy, meta);
      return { model, name: plan.strategy, trainable: plan.strategy === "full" ? "all" : plan.trainable, count: plan.counts.trainable, plan, peft: null };
    }
  }
}

/** Makes exactly the selection's parameters trainable (the one place a model is frozen for training). */
export function freezeFor(model: VisionModel, trainable: "all" | readonly string[]): void {
  if (trainable === "all") model.unfreezeAll();
  else freezeAllBut(model, trainable);
}

/** The display label of a strategy, FAPFT or a method by its key (one home: strategies.ts and the method registry). */
export function selectionLabel(key: string): string {
  if (key === "fapft") return FAPFT_LABEL;
  let strategy: StrategyId | null = null;
  try {
    strategy = parseStrategy(key);
  } catch {
    strategy = null;
  }
  if (strategy && strategy !== "fapft" && strategy === key) return strategyInfo(strategy).label;
  try {
    return methodDef(parseMethod(key)).label;
  } catch {
    return key;
  }
}
