// The residual-unit catalog (paper, section 4.1 and Table 6).
//
// A unit is a whole residual-connected unit: for ViT/Swin an attention unit (norm1 + MSA) or an
// FFN unit (norm2 + MLP), for AS-MLP an AS unit or an MLP unit, for ConvNeXt a whole block.
// Units of the same kind in the same stage form a homogeneous group (same structure and size).
// Everything else (patch embedding, position embedding, cls token, downsampling, final norm,
// head) is listed by role.
//
// The catalog is derived from parameter names and shapes alone, so it works on a checkpoint's
// header (no model instance, no weights): each architecture declares its units as rules over
// timm's key names (see UnitRules in each model file).
import { PftError } from "../errors.js";

export type UnitKind = "attn" | "ffn" | "block" | "as" | "mlp";
export type Role = "patch_embed" | "pos_embed" | "cls_token" | "downsample" | "norm" | "head" | "unit";

export interface ResidualUnit {
  /** Dotted prefix, e.g. "blocks.3.attn" (norm1 included), "layers.2.blocks.5.ffn", "stages.2.blocks.4". */
  name: string;
  kind: UnitKind;
  stage: number;
  /** Block index within its stage. */
  index: number;
  /** Exact parameter names the unit owns (its LayerNorm included), in natural key order. */
  params: string[];
  /** Scalar parameter count. */
  numel: number;
}

export interface UnitGroup {
  /** e.g. "attn" for ViT, "stage2.ffn" for four-stage models. */
  id: string;
  kind: UnitKind;
  stage: number;
  units: ResidualUnit[];
}

export interface OtherParam {
  name: string;
  role: Exclude<Role, "unit">;
  numel: number;
}

export interface Catalog {
  arch: string;
  /** Blocks per stage, e.g. [12] for ViT-B, [2, 2, 18, 2] for Swin-B. */
  depths: number[];
  units: ResidualUnit[];
  groups: UnitGroup[];
  others: OtherParam[];
  total: number;
}

/** One rule per unit kind: a key pattern with named groups `stage` (optional) and `block`. */
export interface UnitRule {
  kind: UnitKind;
  pattern: RegExp;
  /** Unit name from stage and block, e.g. (s, b) => `layers.${s}.blocks.${b}.attn`. */
  unitName: (stage: number, block: number) => string;
}

/** How an architecture's parameter names map onto units and roles. */
export interface UnitRules {
  arch: string;
  /** Whether a set of keys belongs to this architecture (used to detect it from a checkpoint). */
  detect: (keys: readonly string[]) => boolean;
  units: UnitRule[];
  /** Roles of the non-unit parameters, first match wins; unmatched keys are an error. */
  roles: [RegExp, Exclude<Role, "unit">][];
  /** Order groups are listed in within a stage (e.g. attn before ffn). */
  kindOrder: UnitKind[];
}

const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Builds the catalog from parameter names and shapes (a state dict, or a checkpoint header). */
export function buildCatalog(shapes: ReadonlyMap<string, readonly number[]>, rules: UnitRules): Catalog {
  const units = new Map<string, ResidualUnit>();
  const others: OtherParam[] = [];
  let total = 0;
  // Natural key order, so a catalog does not depend on the order a file stores its tensors in.
  const keys = [...shapes.keys()].sort(naturalCompare);
  for (const key of keys) {
    const shape = shapes.get(key)!;
    const n = numelOf(shape);
    total += n;
    let placed = false;
    for (const rule of rules.units) {
      const m = rule.pattern.exec(key);
      if (!m?.groups) continue;
      const stage = m.groups.stage === undefined ? 0 : Number(m.groups.stage);
      const index = Number(m.groups.block);
      const name = rule.unitName(stage, index);
      let u = units.get(name);
      if (!u) units.set(name, (u = { name, kind: rule.kind, stage, index, params: [], numel: 0 }));
      u.params.push(key);
      u.numel += n;
      placed = true;
      break;
    }
    if (placed) continue;
    const role = rules.roles.find(([re]) => re.test(key))?.[1];
    if (!role) throw new PftError("checkpoint", `${rules.arch}: parameter '${key}' belongs to no unit and no known role`);
    others.push({ name: key, role, numel: n });
  }
  const ordered = [...units.values()].sort(
    (a, b) => a.stage - b.stage || a.index - b.index || rules.kindOrder.indexOf(a.kind) - rules.kindOrder.indexOf(b.kind),
  );
  const depths: number[] = [];
  for (const u of ordered) depths[u.stage] = Math.max(depths[u.stage] ?? 0, u.index + 1);
  for (let s = 0; s < depths.length; s++) depths[s] ??= 0;

  const groups = new Map<string, UnitGroup>();
  const singleStage = depths.length === 1;
  for (const u of ordered) {
    const id = singleStage ? u.kind : `stage${u.stage}.${u.kind}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { id, kind: u.kind, stage: u.stage, units: [] }));
    g.units.push(u);
  }
  const groupList = [...groups.values()].sort((a, b) => a.stage - b.stage || rules.kindOrder.indexOf(a.kind) - rules.kindOrder.indexOf(b.kind));
  return { arch: rules.arch, depths, units: ordered, groups: groupList, others, total };
}

/** Compares dotted keys with numbers as numbers: blocks.2 < blocks.10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** The unit that owns a parameter, if any. */
export function unitOf(catalog: Catalog, param: string): ResidualUnit | undefined {
  return catalog.units.find((u) => u.params.includes(param));
}
