// The baselines of Table 1 by name: parsing and validating a method with its options, applying it
// to a model, counting its trainable parameters from shapes alone, and recording it in a weights
// file's metadata so the wrapped model can be rebuilt (`pft eval`).
import { PftError } from "../errors.js";
import { catalogFromShapes, type VisionModel } from "../models/index.js";
import { ADAPTER_DEFAULTS, adapterShapes, applyAdapter, checkAdapterOptions } from "./adapter.js";
import { applyLinear, linearShapes } from "./linear.js";
import { LORA_DEFAULTS, applyLora, loraShapes, parseLoraTargets, resolveLoraOptions } from "./lora.js";
import type { MethodName, MethodSpec, Peft } from "./peft.js";
import { applySsf, ssfShapes } from "./ssf.js";
import { VPT_DEFAULTS, applyVpt, checkVptOptions, vptShapes } from "./vpt.js";

export interface MethodInfo {
  name: MethodName;
  description: string;
  /** Whether merge() folds it into the original weights. */
  mergeable: boolean;
}

export const METHODS: readonly MethodInfo[] = [
  { name: "linear", description: "linear probing: the classifier only (alias of the strategy `linear`)", mergeable: true },
  { name: "adapter", description: "Adapter (Houlsby et al.): a bottleneck after every block's FFN", mergeable: false },
  { name: "vpt", description: "VPT-Deep (Jia et al.): learnable prompt tokens at every layer's input (ViT; Swin inside every window)", mergeable: false },
  { name: "ssf", description: "SSF (Lian et al.): per-channel scale and shift after every linear layer and norm", mergeable: true },
  { name: "lora", description: "LoRA (Hu et al.): low-rank updates of qkv/proj/fc1/fc2", mergeable: true },
];

const ALIASES: Record<string, MethodName> = { "linear-probing": "linear", "vpt-deep": "vpt", adapters: "adapter" };

export function parseMethod(text: string): MethodName {
  const t = text.trim().toLowerCase();
  const m = METHODS.find((i) => i.name === t)?.name ?? ALIASES[t];
  if (!m) throw new PftError("config", `unknown method '${text}' (known: ${METHODS.map((i) => i.name).join(", ")})`);
  return m;
}

/** Method options as flags give them; each applies to one method only. */
export interface MethodFlags {
  /** adapter */
  adapterReduction?: number;
  /** vpt */
  prompts?: number;
  /** lora */
  loraRank?: number;
  loraAlpha?: number;
  /** lora: "qkv,proj,fc1,fc2" or a list */
  loraTargets?: string | readonly string[];
}

const FLAG_OWNER: Record<keyof MethodFlags, { method: MethodName; flag: string }> = {
  adapterReduction: { method: "adapter", flag: "--adapter-reduction" },
  prompts: { method: "vpt", flag: "--prompts" },
  loraRank: { method: "lora", flag: "--lora-rank" },
  loraAlpha: { method: "lora", flag: "--lora-alpha" },
  loraTargets: { method: "lora", flag: "--lora-targets" },
};

/** A method by name with its options (defaults filled, everything validated by applying the rules of the method). */
export function methodSpec(name: string, flags: MethodFlags = {}): MethodSpec {
  const method = parseMethod(name);
  for (const [k, v] of Object.entries(flags) as [keyof MethodFlags, unknown][]) {
    const owner = FLAG_OWNER[k];
    if (!owner) throw new PftError("argument", `unknown method option '${k}'`);
    if (v !== undefined && owner.method !== method) throw new PftError("config", `${owner.flag} is for ${owner.method}, not ${method}`);
  }
  switch (method) {
    case "linear":
      return { method };
    case "adapter":
      return resolveSpec({ method, reduction: flags.adapterReduction ?? ADAPTER_DEFAULTS.reduction });
    case "vpt":
      return resolveSpec({ method, prompts: flags.prompts ?? VPT_DEFAULTS.prompts });
    case "ssf":
      return { method };
    case "lora":
      return resolveSpec({ method, rank: flags.loraRank ?? LORA_DEFAULTS.rank, alpha: flags.loraAlpha ?? LORA_DEFAULTS.alpha, targets: parseLoraTargets(flags.loraTargets ?? LORA_DEFAULTS.targets) });
  }
}

/** Validates a spec (e.g. one read back from metadata) and returns it with defaults filled. */
export function resolveSpec(spec: { method: string } & Record<string, unknown>): MethodSpec {
  const method = parseMethod(spec.method);
  const num = (k: string, d: number): number => {
    const v = spec[k] ?? d;
    if (typeof v !== "number") throw new PftError("config", `${method}: option '${k}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const known: Record<MethodName, string[]> = { linear: [], adapter: ["reduction"], vpt: ["prompts"], ssf: [], lora: ["rank", "alpha", "targets"] };
  for (const k of Object.keys(spec)) if (k !== "method" && !known[method].includes(k)) throw new PftError("config", `${method} has no option '${k}'`);
  switch (method) {
    case "linear":
    case "ssf":
      return { method };
    case "adapter": {
      const o = { reduction: num("reduction", ADAPTER_DEFAULTS.reduction) };
      checkAdapterOptions(o);
      return { method, ...o };
    }
    case "vpt": {
      const o = { prompts: num("prompts", VPT_DEFAULTS.prompts) };
      checkVptOptions(o);
      return { method, ...o };
    }
    case "lora": {
      const t = spec.targets ?? LORA_DEFAULTS.targets;
      if (typeof t !== "string" && !Array.isArray(t)) throw new PftError("config", `lora: targets must be a list, got ${JSON.stringify(t)}`);
      return { method, ...resolveLoraOptions({ rank: num("rank", LORA_DEFAULTS.rank), alpha: num("alpha", LORA_DEFAULTS.alpha), targets: parseLoraTargets(t as string | string[]) }) };
    }
  }
}

/** Applies a method to a model: the model is changed in place (VPT-Deep: wrapped) and the method's parameters plus the classifier are left trainable, the rest frozen. */
export function applyMethod(model: VisionModel, spec: MethodSpec): Peft {
  switch (spec.method) {
    case "linear":
      return applyLinear(model);
    case "adapter":
      return applyAdapter(model, spec);
    case "vpt":
      return applyVpt(model, spec);
    case "ssf":
      return applySsf(model);
    case "lora":
      return applyLora(model, spec);
  }
}

/**
 * The parameters a method adds, by key and shape, from the base model's parameter names and shapes
 * alone (a state dict or a checkpoint header; no model is built).
 */
export function addedShapes(shapes: ReadonlyMap<string, readonly number[]>, spec: MethodSpec): Map<string, number[]> {
  switch (spec.method) {
    case "linear":
      return linearShapes();
    case "adapter":
      return adapterShapes(shapes, spec);
    case "vpt":
      return vptShapes(shapes, spec);
    case "ssf":
      return ssfShapes(shapes);
    case "lora":
      return loraShapes(shapes, spec);
  }
}

export interface MethodParamCount {
  /** The method's parameters plus the classifier (Table 1's Params column). */
  trainable: number;
  /** Every parameter of the model with the method applied. */
  total: number;
  /** The method's own parameters. */
  added: number;
  /** The classifier's parameters. */
  head: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Exact trainable and total parameters of a method, from the base model's names and shapes alone. */
export function countMethodParams(shapes: ReadonlyMap<string, readonly number[]>, spec: MethodSpec): MethodParamCount {
  const catalog = catalogFromShapes(shapes);
  const head = catalog.others.filter((o) => o.role === "head").reduce((s, o) => s + o.numel, 0);
  const added = [...addedShapes(shapes, spec).values()].reduce((s, sh) => s + numel(sh), 0);
  return { trainable: added + head, total: catalog.total + added, added, head };
}

/** What a run records in its weights' metadata: `method` and `methodOptions` (JSON). */
export function methodMetadata(spec: MethodSpec): { method: string; methodOptions: string } {
  const { method, ...options } = spec;
  return { method, methodOptions: JSON.stringify(options) };
}

/** The method recorded in a weights file's metadata, or null for a plain model. */
export function methodFromMetadata(metadata: Readonly<Record<string, string>>): MethodSpec | null {
  const method = metadata.method;
  if (!method) return null;
  let options: unknown;
  try {
    options = JSON.parse(metadata.methodOptions ?? "{}");
  } catch {
    throw new PftError("checkpoint", `the weights record method ${method} with unreadable options '${metadata.methodOptions}'`);
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new PftError("checkpoint", `the weights record method ${method} with options that are not an object`);
  return resolveSpec({ ...(options as Record<string, unknown>), method });
}
