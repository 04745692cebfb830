// The study's design: every run slot, in the order they run, from the configuration alone.
// FAPFT slots name the full fine-tune whose angles choose their units and leave top-k and
// direction "auto" where they follow the target's difficulty, which is only known once the full
// fine-tunes have run (appendix B.2). Slots with the same id are one slot serving several
// purposes (e.g. a learning-rate variant that is also a soup ingredient).
//
// Order, per model: pretrain; full fine-tuning on every target and seed; the Fig. 4 variants;
// FAPFT; the manual strategies and linear probing; the baselines; the Fig. 6 ablation; the
// remaining soup ingredients. Each slot runs after the slots it depends on.
import { PftError } from "../errors.js";
import type { Catalog } from "../models/index.js";
import { parseStrategy, strategyInfo, unitsForStrategy, type Direction, type StrategyName } from "../partial/index.js";
import { addedShapes, methodSpec, ownFlags, type MethodSpec } from "../peft/index.js";
import { selectionLabel, type TrainConfig } from "../train/index.js";
import type { RunKind, RunPurpose } from "../report/records.js";
import { COST_METHODS } from "../robust/index.js";
import type { ModelConfig, StudyConfig, TargetConfig } from "./config.js";
import { slotIds, topkId } from "./ids.js";

export interface FapftSpec {
  /** Per-stage top-k, or "auto": the model's fapftTopk for the target's difficulty. */
  topk: number[] | "auto";
  /** "auto": the target's difficulty decides (easy: smallest angles, hard: largest). */
  direction: Direction | "auto";
  /** The full fine-tuning slot whose angles (against the pretrained weights) choose the units. */
  anglesFrom: string;
}

export interface Slot {
  id: string;
  model: ModelConfig;
  /** Null for pretraining. */
  target: TargetConfig | null;
  purposes: RunPurpose[];
  kind: RunKind;
  label: string;
  strategy: StrategyName | null;
  method: MethodSpec | null;
  fapft: FapftSpec | null;
  variant: { axis: "lr" | "epochs"; value: number } | null;
  seed: number;
  /** The training options of this run (recipe, seed, variant), as runTraining takes them. */
  config: Partial<TrainConfig>;
}

/** What the design needs to know about a model: its catalog and parameter shapes (10 classes). */
export interface ModelFacts {
  catalog: Catalog;
  shapes: ReadonlyMap<string, readonly number[]>;
}

export interface Design {
  slots: Slot[];
  /** Per model key: what was left out and why. */
  notApplicable: Map<string, { what: string; reason: string }[]>;
}

export const strategyLabel = (s: StrategyName): string => {
  const letter = strategyInfo(s).letter;
  const label = strategyInfo(s).label;
  return letter && s !== "full" ? `${label} (${letter})` : label;
};

export { topkId };

const round = (x: number): string => String(Number(x.toPrecision(6)));

export function designStudy(cfg: StudyConfig, facts: ReadonlyMap<string, ModelFacts>): Design {
  const slots: Slot[] = [];
  const byId = new Map<string, Slot>();
  const notApplicable = new Map<string, { what: string; reason: string }[]>();
  const add = (s: Omit<Slot, "purposes">, purpose: RunPurpose): Slot => {
    const have = byId.get(s.id);
    if (have) {
      if (!have.purposes.includes(purpose)) have.purposes.push(purpose);
      return have;
    }
    const slot: Slot = { ...s, purposes: [purpose] };
    byId.set(s.id, slot);
    slots.push(slot);
    return slot;
  };

  for (const m of cfg.models) {
    const f = facts.get(m.key);
    if (!f) throw new PftError("argument", `designStudy: no facts for model '${m.key}'`);
    const skipped: { what: string; reason: string }[] = [];
    notApplicable.set(m.key, skipped);
    const seeds = m.seeds ?? cfg.seeds;
    const recipe = { ...cfg.finetune, ...m.finetune };
    const baseLr = recipe.lr ?? 1e-3;
    const baseEpochs = recipe.epochs ?? 10;
    const ft = (t: TargetConfig, seed: number, over: Partial<TrainConfig> = {}): Partial<TrainConfig> => ({ ...recipe, ...over, seed });
    const none = { strategy: null, method: null, fapft: null, variant: null } as const;

    const pre = add(
      { ...none, id: slotIds.pretrain(m), model: m, target: null, kind: "pretrain", label: `Pretraining on ${cfg.source.data}`, seed: 0, config: { ...cfg.source.train, ...m.pretrain, seed: 0 } },
      "pretrain",
    );
    void pre;

    const full = (t: TargetConfig, seed: number, purpose: RunPurpose, lr = baseLr, epochs = baseEpochs): Slot => {
      const variant = lr !== baseLr ? { axis: "lr" as const, value: lr } : epochs !== baseEpochs ? { axis: "epochs" as const, value: epochs } : null;
      if (lr !== baseLr && epochs !== baseEpochs) throw new PftError("config", "a full fine-tuning variant changes either lr or epochs, not both");
      const suffix = variant ? `-${variant.axis === "lr" ? "lr" : "ep"}${round(variant.value)}` : "";
      const label = variant ? `Full fine-tuning, ${variant.axis} ${round(variant.value)}` : "Full fine-tuning";
      return add({ ...none, id: slotIds.full(m, t, seed, suffix), model: m, target: t, kind: "full", label, strategy: "full", variant, seed, config: ft(t, seed, { lr, epochs }) }, purpose);
    };

    // Full fine-tuning: Table 1/2's baseline, the angles' source, and the difficulty rule's input.
    for (const t of cfg.targets) for (const seed of seeds) full(t, seed, "main");
    // Fig. 4: other learning rates and epoch counts (seed of the first main run).
    if (m.consistency) {
      for (const t of cfg.targets) {
        for (const lr of cfg.consistency.lr) full(t, seeds[0], "consistency", lr);
        for (const ep of cfg.consistency.epochs) full(t, seeds[0], "consistency", baseLr, ep);
      }
    }
    // FAPFT, each seed with the angles of its own full fine-tune.
    for (const t of cfg.targets) {
      for (const seed of seeds) {
        add({ ...none, id: slotIds.fapft(m, t, seed), model: m, target: t, kind: "fapft", label: "FAPFT", fapft: { topk: "auto", direction: "auto", anglesFrom: slotIds.full(m, t, seed) }, seed, config: ft(t, seed) }, "main");
      }
    }
    // The manual strategies (Fig. 3) and linear probing.
    const strategies: StrategyName[] = [];
    for (const name of m.strategies) {
      const id = parseStrategy(name);
      if (id === "fapft") throw new PftError("config", `study config: model ${m.key}: fapft is not a manual strategy (it always runs)`);
      try {
        unitsForStrategy(f.catalog, id);
        if (id !== "full") strategies.push(id);
      } catch (e) {
        skipped.push({ what: strategyLabel(id), reason: (e as Error).message.split("; applicable")[0] });
      }
    }
    for (const t of cfg.targets) {
      for (const seed of seeds) {
        for (const s of strategies) {
          add({ ...none, id: slotIds.selection(m, t, s, seed), model: m, target: t, kind: s === "linear" ? "linear" : "strategy", label: strategyLabel(s), strategy: s, seed, config: ft(t, seed) }, "main");
        }
      }
    }
    // The parameter-efficient baselines.
    const methods: MethodSpec[] = [];
    for (const name of m.methods) {
      const spec = methodSpec(name, ownFlags(name, m.methodOptions));
      try {
        addedShapes(f.shapes, spec);
        methods.push(spec);
      } catch (e) {
        skipped.push({ what: selectionLabel(spec.method), reason: (e as Error).message });
      }
    }
    for (const t of cfg.targets) {
      for (const seed of seeds) {
        for (const spec of methods) {
          add({ ...none, id: slotIds.selection(m, t, spec.method, seed), model: m, target: t, kind: spec.method === "linear" ? "linear" : "method", label: selectionLabel(spec.method), method: spec, seed, config: ft(t, seed) }, "main");
        }
      }
    }
    // Fig. 6: top-k x {largest, smallest}, with the angles of the first seed's full fine-tune.
    const fapftAt = (t: TargetConfig, topk: number[], direction: Direction | "auto", purpose: RunPurpose): Slot =>
      add(
        {
          ...none,
          id: slotIds.topk(m, t, topk, direction, seeds[0]),
          model: m,
          target: t,
          kind: "fapft",
          label: `FAPFT top-${topk.length === 1 ? topk[0] : `[${topk.join(", ")}]`}, ${direction === "auto" ? "the target's direction" : `${direction} angles`}`,
          fapft: { topk, direction, anglesFrom: slotIds.full(m, t, seeds[0]) },
          seed: seeds[0],
          config: ft(t, seeds[0]),
        },
        purpose,
      );
    if (m.ablation) {
      for (const t of cfg.targets) for (const topk of m.ablationTopk) for (const dir of ["largest", "smallest"] as const) fapftAt(t, topk, dir, "ablation");
    }
    // Table 3's ingredients: full fine-tunes over lr and seed; FAPFT over top-k (the target's direction).
    if (m.soups) {
      for (const t of cfg.targets) {
        for (const r of cfg.soups.fft) full(t, r.seed, "soup", r.lr ?? baseLr);
        // The ablation covers both directions of each of its top-k, so reuse its slots when it has them.
        for (const topk of m.soupTopk) {
          const inAblation = m.ablation && m.ablationTopk.some((k) => topkId(k) === topkId(topk));
          if (inAblation) continue;
          fapftAt(t, topk, "auto", "soup");
        }
      }
    }
  }
  return { slots, notApplicable };
}

/** A Fig. 5 method's name in the report: the study's labels without Fig. 3's letters. */
export const costLabel = (method: string): string => selectionLabel(method);

/**
 * The methods the cost step measures for one model, in Fig. 5's order (COST_METHODS): those that the study fine-tunes for it
 * (full fine-tuning and FAPFT always); the others are left out with the design's reason (the
 * method does not apply to the architecture) or because the configuration does not list them.
 */
export function costMethods(design: Design, model: ModelConfig): { methods: string[]; leftOut: { what: string; reason: string }[] } {
  const trained = new Set<string>(design.slots.filter((s) => s.model.key === model.key && s.purposes.includes("main")).map((s) => (s.kind === "fapft" ? "fapft" : (s.method?.method ?? s.strategy ?? s.kind))));
  const methods: string[] = [];
  const leftOut: { what: string; reason: string }[] = [];
  for (const key of COST_METHODS) {
    if (key === "full" || key === "fapft" || trained.has(key)) {
      methods.push(key);
      continue;
    }
    const isStrategy = key === "attn" || key === "ffn" || key === "linear";
    const label = isStrategy ? strategyLabel(key as StrategyName) : selectionLabel(key);
    const na = design.notApplicable.get(model.key)?.find((n) => n.what === label);
    leftOut.push({ what: costLabel(key), reason: na?.reason ?? `not among the model's ${isStrategy ? "strategies" : "methods"} in the configuration` });
  }
  return { methods, leftOut };
}
