// LoRA (Hu et al. 2021): a frozen Linear W plus a trainable low-rank update,
// y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ, with A [r, in] kaiming-uniform and B [out, r] zero, so the
// output is unchanged at initialisation (as loralib, the authors' code). Targets are chosen among
// the attention's fused qkv and output projection and the MLP's fc1 and fc2 (default: qkv, the
// fused Wq/Wk/Wv). The update folds into the weight after training: W += (alpha / r) · B A.
//
// Per target and block, r · (in + out) parameters: on ViT-B/16's qkv, 8 · (768 + 2304) = 24,576,
// so rank 8 on qkv adds 294,912 over 12 blocks.
//
// Module surgery: each target is replaced by a stand-in keeping `weight`/`bias` and adding
// `lora_A` and `lora_B` (`blocks.3.attn.qkv.lora_A`, loralib's names).
import { F, Tensor, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import { Linear, Parameter, kaimingUniform_ } from "../nn/index.js";
import { checkPlain, surgeryPeft, type LoraOptions, type LoraTarget, type Peft } from "./peft.js";
import { StandIn, findModules, standIns } from "./surgery.js";

export const LORA_TARGETS: readonly LoraTarget[] = ["qkv", "proj", "fc1", "fc2"];
export const LORA_DEFAULTS: LoraOptions = { rank: 8, alpha: 8, targets: ["qkv"] };

const SITE: Record<LoraTarget, RegExp> = {
  qkv: /(^|\.)attn\.qkv$/,
  proj: /(^|\.)attn\.proj$/,
  fc1: /(^|\.)mlp\.fc1$/,
  fc2: /(^|\.)mlp\.fc2$/,
};

/** A frozen Linear with a low-rank update B A scaled by alpha / rank. */
export class LoraLinear extends StandIn<Linear> {
  readonly lora_A: Parameter;
  readonly lora_B: Parameter;
  readonly scaling: number;
  constructor(layer: Linear, rank: number, alpha: number) {
    super(layer);
    this.lora_A = kaimingUniform_(new Parameter(Tensor.empty([rank, layer.inFeatures])), { a: Math.sqrt(5) });
    this.lora_B = new Parameter(Tensor.zeros([layer.outFeatures, rank]));
    this.scaling = alpha / rank;
  }

  override forward(x: Tensor): Tensor {
    return scope(() => this.baseForward(x).add(F.linear(F.linear(x, this.lora_A.value), this.lora_B.value).mul(this.scaling)));
  }

  ownParameters(): Parameter[] {
    return [this.lora_A, this.lora_B];
  }

  /** W += scaling · B A; call under noGrad. */
  fold(): void {
    scope(() => {
      this.base.weight.value.add_(this.lora_B.value.matmul(this.lora_A.value).mul(this.scaling));
    });
  }
}

/** Targets from a comma-separated list ("qkv,fc1") or an array; each once, in LORA_TARGETS order. */
export function parseLoraTargets(targets: string | readonly string[]): LoraTarget[] {
  const list = (typeof targets === "string" ? targets.split(",") : [...targets]).map((t) => t.trim()).filter((t) => t !== "");
  if (list.length === 0) throw new PftError("config", `lora: no targets given (choose among ${LORA_TARGETS.join(", ")})`);
  for (const t of list) if (!LORA_TARGETS.includes(t as LoraTarget)) throw new PftError("config", `lora: unknown target '${t}' (choose among ${LORA_TARGETS.join(", ")})`);
  return LORA_TARGETS.filter((t) => list.includes(t));
}

/** Options with defaults filled and checked. */
export function resolveLoraOptions(opts: Partial<LoraOptions>): LoraOptions {
  const o = { ...LORA_DEFAULTS, ...opts };
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new PftError("config", `lora: the rank must be a whole number >= 1, got ${o.rank}`);
  if (!(Number.isFinite(o.alpha) && o.alpha > 0)) throw new PftError("config", `lora: alpha must be a positive number, got ${o.alpha}`);
  return { ...o, targets: parseLoraTargets(o.targets) };
}

const isSite = (path: string, targets: readonly LoraTarget[]) => targets.some((t) => SITE[t].test(path));

export function applyLora(model: VisionModel, opts: Partial<LoraOptions> = {}): Peft {
  const o = resolveLoraOptions(opts);
  checkPlain(model, "lora");
  const sites = findModules(model, o.targets.map((t) => SITE[t])).filter((s) => s.module instanceof Linear);
  if (sites.length === 0) throw new PftError("config", `lora: ${model.arch} has no Linear ${o.targets.join("/")} layers (attn.qkv, attn.proj, mlp.fc1, mlp.fc2)`);
  const placed = standIns(model, sites.map((s) => s.name), (m) => new LoraLinear(m as Linear, o.rank, o.alpha));
  return surgeryPeft({ method: "lora", ...o }, model, placed, (s) => s.fold());
}

/** The parameters applyLora adds, from the base model's parameter names and shapes alone. */
export function loraShapes(shapes: ReadonlyMap<string, readonly number[]>, opts: Partial<LoraOptions> = {}): Map<string, number[]> {
  const o = resolveLoraOptions(opts);
  const out = new Map<string, number[]>();
  for (const [key, shape] of shapes) {
    const m = /^(.*)\.weight$/.exec(key);
    if (!m || shape.length !== 2 || !isSite(m[1], o.targets)) continue;
    out.set(`${m[1]}.lora_A`, [o.rank, shape[1]]);
    out.set(`${m[1]}.lora_B`, [shape[0], o.rank]);
  }
  if (out.size === 0) throw new PftError("config", `lora: the model has no ${o.targets.join("/")} layers`);
  return out;
}
