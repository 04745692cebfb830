// The baselines of Table 1 by name: parsing and validating a method with its options, applying it
// to a model, counting its trainable parameters from shapes alone, and recording it in a weights
// file's metadata so the wrapped model can be rebuilt (`pft eval`).
import { PftError } from "../errors.js";
import { catalogFromShapes, type VisionModel } from "../models/index.js";
import { ADAPTER_DEFAULTS, adapterShapes, applyAdapter, checkAdapterOptions } from "./adapter.js";
import { applyLinear, linearShapes } from "./linear.js";
import { LORA_DEFAULTS, applyLora, loraShapes, parseLoraTargets, resolveLoraOptions } from "./lora.js";
import type { AdapterOptions, LoraOptions, MethodName, MethodSpec, Peft, VptOptions } from "./peft.js";
import { applySsf, ssfShapes } from "./ssf.js";
import { VPT_DEFAULTS, applyVpt, checkVptOptions, vptShapes } from "./vpt.js";

/** One option of a method: its key in the spec, its flag (MethodFlags key and CLI spelling), its default. */
export interface MethodOption {
  key: string;
  flag: keyof MethodFlags;
  cli: string;
  type: "integer" | "number" | "string";
  help: string;
}

/**
 * A parameter-efficient method, registered by name (timm's register_model, for methods): its
 * display label, options with defaults, how its spec is validated, how it is applied, the shapes
 * of what it adds, and whether it merges into the weights.
 */
export interface MethodDef {
  name: MethodName;
  /** How the paper and the report name it. */
  label: string;
  description: string;
  /** Whether merge() folds it into the original weights. */
  mergeable: boolean;
  options: readonly MethodOption[];
  /** The spec from its options (absent ones take their defaults), validated. */
  resolve(options: Record<string, unknown>): MethodSpec;
  apply(model: VisionModel, spec: MethodSpec): Peft;
  shapes(shapes: ReadonlyMap<string, readonly number[]>, spec: MethodSpec): Map<string, number[]>;
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

const num = (method: string, o: Record<string, unknown>, k: string, d: number): number => {
  const v = o[k] ?? d;
  if (typeof v !== "number") throw new PftError("config", `${method}: option '${k}' must be a number, got ${JSON.stringify(v)}`);
  return v;
};

const REGISTRY = new Map<MethodName, MethodDef>();

/** Adds a method to the registry (the built-in ones below; a name is registered once). */
export function registerMethod(def: MethodDef): void {
  if (REGISTRY.has(def.name)) throw new PftError("config", `method '${def.name}' is already registered`);
  REGISTRY.set(def.name, def);
}

registerMethod({
  name: "linear",
  label: "Linear probing",
  description: "linear probing: the classifier only (alias of the strategy `linear`)",
  mergeable: true,
  options: [],
  resolve: () => ({ method: "linear" }),
  apply: (model) => applyLinear(model),
  shapes: () => linearShapes(),
});
/** A method with one numeric option and no merge (Adapter's reduction, VPT-Deep's prompts). */
function oneOptionMethod<O extends AdapterOptions | VptOptions>(d: Pick<MethodDef, "name" | "label" | "description"> & { option: MethodOption; fallback: number; check(o: O): void; apply(model: VisionModel, o: O): Peft; shapes(shapes: ReadonlyMap<string, readonly number[]>, o: O): Map<string, number[]> }): MethodDef {
  return {
    name: d.name,
    label: d.label,
    description: d.description,
    mergeable: false,
    options: [d.option],
    resolve(o) {
      const opts = { [d.option.key]: num(d.name, o, d.option.key, d.fallback) } as unknown as O;
      d.check(opts);
      return { method: d.name, ...opts } as MethodSpec;
    },
    apply: (model, spec) => d.apply(model, spec as unknown as O),
    shapes: (shapes, spec) => d.shapes(shapes, spec as unknown as O),
  };
}

registerMethod(
  oneOptionMethod<AdapterOptions>({
    name: "adapter",
    label: "Adapter",
    description: "Adapter (Houlsby et al.): a bottleneck after every block's FFN",
    option: { key: "reduction", flag: "adapterReduction", cli: "adapter-reduction", type: "integer", help: `adapter: bottleneck = width / reduction (default ${ADAPTER_DEFAULTS.reduction})` },
    fallback: ADAPTER_DEFAULTS.reduction,
    check: checkAdapterOptions,
    apply: applyAdapter,
    shapes: adapterShapes,
  }),
);
registerMethod(
  oneOptionMethod<VptOptions>({
    name: "vpt",
    label: "VPT-Deep",
    description: "VPT-Deep (Jia et al.): learnable prompt tokens at every layer's input (ViT; Swin inside every window)",
    option: { key: "prompts", flag: "prompts", cli: "prompts", type: "integer", help: `vpt: prompt tokens per layer (default ${VPT_DEFAULTS.prompts})` },
    fallback: VPT_DEFAULTS.prompts,
    check: checkVptOptions,
    apply: applyVpt,
    shapes: vptShapes,
  }),
);
registerMethod({
  name: "ssf",
  label: "SSF",
  description: "SSF (Lian et al.): per-channel scale and shift after every linear layer and norm",
  mergeable: true,
  options: [],
  resolve: () => ({ method: "ssf" }),
  apply: (model) => applySsf(model),
  shapes: (shapes) => ssfShapes(shapes),
});
registerMethod({
  name: "lora",
  label: "LoRA",
  description: "LoRA (Hu et al.): low-rank updates of qkv/proj/fc1/fc2",
  mergeable: true,
  options: [
    { key: "rank", flag: "loraRank", cli: "lora-rank", type: "integer", help: `lora: rank r (default ${LORA_DEFAULTS.rank})` },
    { key: "alpha", flag: "loraAlpha", cli: "lora-alpha", type: "number", help: `lora: the update is scaled by alpha / r (default ${LORA_DEFAULTS.alpha})` },
    { key: "targets", flag: "loraTargets", cli: "lora-targets", type: "string", help: `lora: comma-separated among qkv, proj, fc1, fc2 (default ${LORA_DEFAULTS.targets.join(",")})` },
  ],
  resolve(o) {
    const t = o.targets ?? LORA_DEFAULTS.targets;
    if (typeof t !== "string" && !Array.isArray(t)) throw new PftError("config", `lora: targets must be a list, got ${JSON.stringify(t)}`);
    return { method: "lora", ...resolveLoraOptions({ rank: num("lora", o, "rank", LORA_DEFAULTS.rank), alpha: num("lora", o, "alpha", LORA_DEFAULTS.alpha), targets: parseLoraTargets(t as string | string[]) }) };
  },
  apply: (model, spec) => applyLora(model, spec as LoraOptions),
  shapes: (shapes, spec) => loraShapes(shapes, spec as LoraOptions),
});

/** The registered method of that name. */
export function methodDef(name: MethodName): MethodDef {
  const def = REGISTRY.get(name);
  if (!def) throw new PftError("config", `unknown method '${name}' (known: ${[...REGISTRY.keys()].join(", ")})`);
  return def;
}

/** The registered methods, in registration order. */
export const METHODS: readonly MethodDef[] = [...REGISTRY.values()];

/** Every method's options, in registration order (the CLI's flags, the study's methodOptions). */
export const METHOD_OPTIONS: readonly (MethodOption & { method: MethodName })[] = METHODS.flatMap((d) => d.options.map((o) => ({ ...o, method: d.name })));

const ALIASES: Record<string, MethodName> = { "linear-probing": "linear", "vpt-deep": "vpt", adapters: "adapter" };

export function parseMethod(text: string): MethodName {
  const t = text.trim().toLowerCase();
  const m = REGISTRY.has(t as MethodName) ? (t as MethodName) : ALIASES[t];
  if (!m) throw new PftError("config", `unknown method '${text}' (known: ${METHODS.map((i) => i.name).join(", ")})`);
  return m;
}

/** A method by name with its options (defaults filled, everything validated by applying the rules of the method). */
export function methodSpec(name: string, flags: MethodFlags = {}): MethodSpec {
  const method = parseMethod(name);
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags) as [keyof MethodFlags, unknown][]) {
    const owner = METHOD_OPTIONS.find((o) => o.flag === k);
    if (!owner) throw new PftError("argument", `unknown method option '${k}'`);
    if (v === undefined) continue;
    if (owner.method !== method) throw new PftError("config", `--${owner.cli} is for ${owner.method}, not ${method}`);
    options[owner.key] = v;
  }
  return methodDef(method).resolve(options);
}

/** The flags of one method from an options object that may hold every method's (MethodFlags): only its own. */
export function ownFlags(name: string, flags: MethodFlags): MethodFlags {
  const method = parseMethod(name);
  return Object.fromEntries(METHOD_OPTIONS.filter((o) => o.method === method && flags[o.flag] !== undefined).map((o) => [o.flag, flags[o.flag]]));
}

/** Validates a spec (e.g. one read back from metadata) and returns it with defaults filled. */
export function resolveSpec(spec: { method: string } & Record<string, unknown>): MethodSpec {
  const def = methodDef(parseMethod(spec.method));
  for (const k of Object.keys(spec)) if (k !== "method" && !def.options.some((o) => o.key === k)) throw new PftError("config", `${def.name} has no option '${k}'`);
  return def.resolve(spec);
}

/** Applies a method to a model: the model is changed in place (VPT-Deep: wrapped) and the method's parameters plus the classifier are left trainable, the rest frozen. */
export function applyMethod(model: VisionModel, spec: MethodSpec): Peft {
  return methodDef(spec.method).apply(model, spec);
}

/**
 * The parameters a method adds, by key and shape, from the base model's parameter names and shapes
 * alone (a state dict or a checkpoint header; no model is built).
 */
export function addedShapes(shapes: ReadonlyMap<string, readonly number[]>, spec: MethodSpec): Map<string, number[]> {
  return methodDef(spec.method).shapes(shapes, spec);
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
