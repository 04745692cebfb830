// The model registry: named configs, as timm's register_model. Each model file registers its
// variants (sizes only); everything else creates models through createModel and dispatches
// through the VisionModel API, never on names.
import { PftError } from "../errors.js";
import type { VisionModel } from "./base.js";
import { buildCatalog, type Catalog, type UnitRules } from "./catalog.js";

export interface ModelOverrides {
  numClasses?: number;
  imageSize?: number;
  inChans?: number;
  dropPathRate?: number;
}

export interface ModelEntry {
  name: string;
  arch: string;
  description: string;
  create: (o: ModelOverrides) => VisionModel;
}

const registry = new Map<string, ModelEntry>();
const unitRules = new Map<string, UnitRules>();

export function registerModel(entry: ModelEntry): void {
  registry.set(entry.name, entry);
}

export function registerUnitRules(rules: UnitRules): void {
  unitRules.set(rules.arch, rules);
}

export function listModels(): ModelEntry[] {
  return [...registry.values()];
}

export function createModel(name: string, overrides: ModelOverrides = {}): VisionModel {
  const entry = registry.get(name);
  if (!entry) {
    throw new PftError("config", `unknown model '${name}' (known: ${[...registry.keys()].join(", ")})`);
  }
  return entry.create(overrides);
}

/** The architecture a set of parameter names belongs to, detected from key names alone. */
export function detectArch(keys: readonly string[]): UnitRules {
  for (const rules of unitRules.values()) if (rules.detect(keys)) return rules;
  throw new PftError("checkpoint", `cannot tell the architecture from the parameter names (first key '${keys[0] ?? ""}')`);
}

/** The residual-unit catalog of a model instance (its parameters, not its buffers). */
export function catalogOf(model: VisionModel): Catalog {
  return buildCatalog(new Map(model.namedParameters().map((n) => [n.name, n.param.shape])), model.unitRules());
}

/** The catalog of a checkpoint from its parameter names and shapes (architecture detected). */
export function catalogFromShapes(shapes: ReadonlyMap<string, readonly number[]>): Catalog {
  return buildCatalog(shapes, detectArch([...shapes.keys()]));
}

/** Drops undefined overrides so they don't shadow a config's values. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
