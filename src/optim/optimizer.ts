// The shared optimizer machinery: groups, lazily created per-parameter state, the step loop,
// zeroGrad, and the resumable state dict. AdamW and SGD only supply the per-parameter update.
//
//   const opt = new AdamW(paramGroupsWeightDecay(model.namedParameters(), 0.05), { lr: 1e-3 });
//   opt.setLr(warmupCosine(iter, cfg.schedule)); clipGradNorm(params, 1); opt.step(); opt.zeroGrad();
//
// Frozen parameters (trainable false) are skipped: they get no state and are never written.
// A trainable parameter without a gradient is skipped for that step, as in torch.
import { noGrad, scope, Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { NamedParameter, Parameter } from "../nn/parameter.js";
import { OptimizerGroup, type ParamGroup } from "./param-groups.js";

export type OptimizerKind = "adamw" | "sgd";
export type HyperValue = number | boolean | number[];

/** Per-parameter state: the update count and named state tensors (owned by the optimizer). */
export interface ParamState {
  /** Updates applied to this parameter (torch's per-parameter `step`). */
  step: number;
  tensors: Record<string, Tensor>;
}

/** The JSON half of a state dict. */
export interface OptimizerStateMeta {
  format: 1;
  kind: OptimizerKind;
  /** Calls to step() so far. */
  stepCount: number;
  /** Optimizer-wide hyper-parameters (betas, eps / momentum, dampening, nesterov). */
  hyper: Record<string, HyperValue>;
  /** Per group, in order: hyper-parameters and parameter names. */
  groups: { lr: number; weightDecay: number; lrScale: number; params: string[] }[];
  /** Per-parameter update counts, for the parameters that have state. */
  paramSteps: Record<string, number>;
}

/**
 * Everything needed to resume. `tensors` (e.g. "blocks.0.attn.qkv.weight.exp_avg") go to
 * safetensors, the rest to JSON: `const { tensors, ...meta } = opt.stateDict();`.
 */
export interface OptimizerStateDict extends OptimizerStateMeta {
  tensors: Record<string, Tensor>;
}

export interface OptimizerDefaults {
  lr: number;
  weightDecay: number;
}

interface Entry {
  name: string;
  param: Parameter;
  state: ParamState | null;
}

export abstract class Optimizer {
  abstract readonly kind: OptimizerKind;
  readonly groups: readonly OptimizerGroup[];
  #entries = new Map<Parameter, Entry>();
  #stepCount = 0;

  constructor(groups: readonly ParamGroup[], defaults: OptimizerDefaults) {
    const seen = new Set<string>();
    this.groups = groups.map((g, i) => {
      if (!g || !Array.isArray(g.params)) throw new PftError("argument", `parameter group ${i} has no params array`);
      for (const np of g.params) {
        if (seen.has(np.name) || this.#entries.has(np.param)) {
          throw new PftError("argument", `parameter ${np.name} appears in more than one place in the optimizer's groups`);
        }
        seen.add(np.name);
        this.#entries.set(np.param, { name: np.name, param: np.param, state: null });
      }
      return new OptimizerGroup([...g.params], g.lr ?? defaults.lr, g.weightDecay ?? defaults.weightDecay, g.lrScale ?? 1);
    });
  }

  /** Calls to step() so far (restored by loadStateDict). */
  get stepCount(): number {
    return this.#stepCount;
  }

  /** The first group's lr (the usual single-lr case). */
  get lr(): number {
    return this.groups.length ? this.groups[0].lr : 0;
  }

  /** Sets every group's lr to `lr * group.lrScale`; a schedule calls this before each step. */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr * g.lrScale;
  }

  /** The state of one parameter (null when frozen or not yet stepped). The tensors stay owned by the optimizer. */
  stateOf(param: Parameter): ParamState | null {
    return this.#entries.get(param)?.state ?? null;
  }

  /** Applies one update to every trainable parameter that has a gradient. Frees all temporaries. */
  step(): void {
    noGrad(() =>
      scope(() => {
        for (const group of this.groups) {
          for (const np of group.params) {
            if (!np.param.trainable) continue;
            const grad = np.param.grad;
            if (grad === null) continue;
            const entry = this.#entries.get(np.param)!;
            entry.state ??= { step: 0, tensors: {} };
            entry.state.step += 1;
            this.update(group, np.param.value, grad, entry.state);
          }
        }
      }),
    );
    this.#stepCount += 1;
  }

  /** Drops every gradient (set to none, as torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.groups) for (const np of g.params) np.param.zeroGrad();
  }

  /**
   * A snapshot for checkpoints. The tensors are fresh copies owned by the caller (or the open
   * scope): dispose them once written. Later steps do not change the snapshot.
   */
  stateDict(): OptimizerStateDict {
    const tensors: Record<string, Tensor> = {};
    const paramSteps: Record<string, number> = {};
    noGrad(() => {
      for (const e of this.#entries.values()) {
        if (!e.state) continue;
        paramSteps[e.name] = e.state.step;
        for (const [k, t] of Object.entries(e.state.tensors)) tensors[`${e.name}.${k}`] = t.clone();
      }
    });
    return {
      format: 1,
      kind: this.kind,
      stepCount: this.#stepCount,
      hyper: this.hyper(),
      groups: this.groups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay, lrScale: g.lrScale, params: g.params.map((np) => np.name) })),
      paramSteps,
      tensors,
    };
  }

  /**
   * Restores a state dict from an optimizer of the same kind over the same groups (same parameter
   * names, in the same order); `tensors` may be a Map, as readSafetensors returns. Tensors are
   * copied into the parameters' dtype and device; the caller keeps ownership of them. Restores the
   * step counts, group lr / weight decay and hyper-parameters. Throws PftError("checkpoint") on any
   * mismatch, leaving this optimizer unchanged.
   */
  loadStateDict(state: OptimizerStateMeta & { tensors: Record<string, Tensor> | ReadonlyMap<string, Tensor> }): void {
    const sd = { ...state, tensors: state.tensors instanceof Map ? Object.fromEntries(state.tensors) : (state.tensors as Record<string, Tensor>) };
    if (sd.format !== 1) throw new PftError("checkpoint", `optimizer state: unknown format ${String(sd.format)}`);
    if (sd.kind !== this.kind) throw new PftError("checkpoint", `optimizer state is for ${sd.kind}, this optimizer is ${this.kind}`);
    this.checkHyper(sd.hyper ?? {});
    if (!Number.isInteger(sd.stepCount) || sd.stepCount < 0) throw new PftError("checkpoint", `optimizer state: bad stepCount ${sd.stepCount}`);
    if (!Array.isArray(sd.groups) || sd.groups.length !== this.groups.length) {
      throw new PftError("checkpoint", `optimizer state has ${sd.groups?.length} groups, this optimizer has ${this.groups.length}`);
    }
    this.groups.forEach((g, i) => {
      const names = g.params.map((np) => np.name);
      const saved = sd.groups[i]?.params;
      if (!Array.isArray(saved)) throw new PftError("checkpoint", `optimizer state group ${i} has no parameter names`);
      if (saved.length !== names.length || saved.some((n, j) => n !== names[j])) {
        throw new PftError("checkpoint", `optimizer state group ${i} has parameters [${saved.slice(0, 3).join(", ")}...] (${saved.length}), expected [${names.slice(0, 3).join(", ")}...] (${names.length})`);
      }
    });
    for (const [i, g] of sd.groups.entries()) {
      for (const k of ["lr", "weightDecay"] as const) {
        if (typeof g[k] !== "number" || !Number.isFinite(g[k]) || g[k] < 0) throw new PftError("checkpoint", `optimizer state group ${i}: bad ${k} ${g[k]}`);
      }
    }
    if (typeof sd.paramSteps !== "object" || sd.paramSteps === null) throw new PftError("checkpoint", "optimizer state has no paramSteps record");
    const byName = new Map<string, Entry>();
    for (const e of this.#entries.values()) byName.set(e.name, e);
    for (const name of Object.keys(sd.paramSteps)) {
      if (!byName.has(name)) throw new PftError("checkpoint", `optimizer state for unknown parameter ${name}`);
      const s = sd.paramSteps[name];
      if (!Number.isInteger(s) || s < 1) throw new PftError("checkpoint", `optimizer state: bad step count ${s} for ${name}`);
    }
    const keys = this.stateKeys();
    const expected = new Set(Object.keys(sd.paramSteps).flatMap((n) => keys.map((k) => `${n}.${k}`)));
    for (const k of Object.keys(sd.tensors)) {
      if (!expected.has(k)) throw new PftError("checkpoint", `unexpected optimizer state tensor ${k}`);
    }
    for (const k of expected) {
      if (!(k in sd.tensors)) throw new PftError("checkpoint", `missing optimizer state tensor ${k}`);
    }
    for (const name of Object.keys(sd.paramSteps)) {
      const want = byName.get(name)!.param.shape;
      for (const k of keys) {
        const got = sd.tensors[`${name}.${k}`].shape;
        if (want.length !== got.length || want.some((d, j) => d !== got[j])) {
          throw new PftError("checkpoint", `optimizer state ${name}.${k} has shape [${got.join(", ")}], parameter is [${want.join(", ")}]`);
        }
      }
    }

    // Validated: build the new state, then swap it in.
    const fresh = new Map<Entry, ParamState>();
    noGrad(() => {
      for (const [name, step] of Object.entries(sd.paramSteps)) {
        const e = byName.get(name)!;
        const v = e.param.value;
        const tensors: Record<string, Tensor> = {};
        for (const k of keys) {
          tensors[k] = zerosLike(v).copy_(sd.tensors[`${name}.${k}`]);
        }
        fresh.set(e, { step, tensors });
      }
    });
    this.disposeState();
    for (const [e, s] of fresh) e.state = s;
    this.groups.forEach((g, i) => {
      g.lr = sd.groups[i].lr;
      g.weightDecay = sd.groups[i].weightDecay;
    });
    this.setHyper(sd.hyper);
    this.#stepCount = sd.stepCount;
  }

  /** Frees all optimizer state (the optimizer starts over if stepped again). */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const e of this.#entries.values()) {
      if (e.state) for (const t of Object.values(e.state.tensors)) t.dispose();
      e.state = null;
    }
  }

  /**
   * The update of one parameter, run under noGrad inside the step's scope, after `state.step` was
   * incremented. New state tensors must be `keep()`-ed.
   */
  protected abstract update(group: OptimizerGroup, param: Tensor, grad: Tensor, state: ParamState): void;
  /** Names of the state tensors every stepped parameter has (e.g. exp_avg, exp_avg_sq). */
  protected abstract stateKeys(): readonly string[];
  protected abstract hyper(): Record<string, HyperValue>;
  /** Throws PftError("checkpoint") when saved hyper-parameters are malformed. */
  protected abstract checkHyper(h: Record<string, HyperValue>): void;
  protected abstract setHyper(h: Record<string, HyperValue>): void;
}

/** The parameters of a list of NamedParameters or Parameters. */
export function paramsOf(ps: Iterable<NamedParameter | Parameter>): Parameter[] {
  return Array.from(ps, (p) => ("param" in p ? p.param : p));
}

/** Zeros with the shape, dtype and device of `t`, taken out of the open scope (state tensors). */
export function zerosLike(t: Tensor): Tensor {
  return Tensor.zeros(t.shape, { dtype: t.dtype, device: t.device }).keep();
}
