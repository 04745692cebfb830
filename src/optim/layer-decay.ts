// Layer-wise lr decay, timm's param_groups_layer_decay (timm/optim/_param_groups.py) over each
// architecture's group_matcher(coarse=False) (timm/models/*.py), mapped to layer ids as timm's
// group_with_matcher does: a name's ordinal is (matcher index, regex groups..., suffix); sorted
// ordinals become consecutive ids, an ordinal ending in 99999 (MATCH_PREV_GROUP) joins the group
// before it, and unmatched names (the head) get the largest ordinal. With L ids, layer i's lr is
// scaled by decay^(L - 1 - i): the embeddings get the deepest decay, the head 1.0.
import type { NamedParameter } from "../nn/parameter.js";
import { PftError } from "../errors.js";
import { paramGroupsWeightDecay, type ParamGroup } from "./param-groups.js";

/** One rule of a group matcher: a regex, and the ordinal's prefix (the matcher's index) and suffix. */
type Rule = { re: RegExp; prefix: number; suffix: number[] | null };
const MATCH_PREV_GROUP = 99999;

/** timm's group_matcher(coarse=False) per architecture, as (matcher index, regex, suffix). */
const MATCHERS: Record<string, Rule[]> = {
  // vision_transformer.py: stem=r'^cls_token|pos_embed|patch_embed', blocks=[(r'^blocks\.(\d+)', None), (r'^norm', (99999,))]
  vit: [
    { re: /^(?:cls_token|pos_embed|patch_embed)/, prefix: 0, suffix: null },
    { re: /^blocks\.(\d+)/, prefix: 1, suffix: null },
    { re: /^norm/, prefix: 1, suffix: [MATCH_PREV_GROUP] },
  ],
  // convnext.py: stem=r'^stem', blocks=[(r'^stages\.(\d+)\.downsample', (0,)), (r'^stages\.(\d+)\.blocks\.(\d+)', None), (r'^norm_pre', (99999,))]
  convnext: [
    { re: /^stem/, prefix: 0, suffix: null },
    { re: /^stages\.(\d+)\.downsample/, prefix: 1, suffix: [0] },
    { re: /^stages\.(\d+)\.blocks\.(\d+)/, prefix: 1, suffix: null },
    { re: /^norm_pre/, prefix: 1, suffix: [MATCH_PREV_GROUP] },
  ],
  // swin_transformer.py: stem=r'^patch_embed', blocks=[(r'^layers\.(\d+).downsample', (0,)), (r'^layers\.(\d+)\.\w+\.(\d+)', None), (r'^norm', (99999,))]
  swin: [
    { re: /^patch_embed/, prefix: 0, suffix: null },
    { re: /^layers\.(\d+).downsample/, prefix: 1, suffix: [0] },
    { re: /^layers\.(\d+)\.\w+\.(\d+)/, prefix: 1, suffix: null },
    { re: /^norm/, prefix: 1, suffix: [MATCH_PREV_GROUP] },
  ],
};

function ordinal(name: string, rules: Rule[]): number[] {
  for (const r of rules) {
    const m = r.re.exec(name);
    if (m) return [r.prefix, ...m.slice(1).filter((g) => g !== undefined).map(Number), ...(r.suffix ?? [])];
  }
  return [Infinity]; // un-matched (neck, head): the largest ordinal
}

function compareOrdinals(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/** Layer id of every name (all of the model's parameters, trainable or not), and the number of ids. */
export function layerIds(arch: string, names: readonly string[]): { ids: Map<string, number>; numLayers: number } {
  const rules = MATCHERS[arch];
  if (!rules) throw new PftError("config", `layer-wise lr decay has no layer map for the ${arch} architecture (known: ${Object.keys(MATCHERS).join(", ")})`);
  const byKey = new Map<string, { ord: number[]; names: string[] }>();
  for (const n of names) {
    const ord = ordinal(n, rules);
    const key = ord.join(",");
    if (!byKey.has(key)) byKey.set(key, { ord, names: [] });
    byKey.get(key)!.names.push(n);
  }
  const ids = new Map<string, number>();
  let lid = -1;
  for (const { ord, names: ns } of [...byKey.values()].sort((a, b) => compareOrdinals(a.ord, b.ord))) {
    if (lid < 0 || ord[ord.length - 1] !== MATCH_PREV_GROUP) lid++;
    for (const n of ns) ids.set(n, lid);
  }
  return { ids, numLayers: lid + 1 };
}

/** The lr scale of each name: decay^(numLayers - 1 - layer id). */
export function layerDecayScales(arch: string, names: readonly string[], decay: number): Map<string, number> {
  if (!(decay > 0 && decay <= 1)) throw new PftError("config", `layer decay must be in (0, 1], got ${decay}`);
  const { ids, numLayers } = layerIds(arch, names);
  return new Map([...ids].map(([n, id]) => [n, decay ** (numLayers - 1 - id)]));
}

/**
 * Parameter groups with per-layer lr scales (timm's param_groups_layer_decay): the layer map is
 * computed over every parameter of the model (`all`), the groups hold the trainable ones, split
 * by weight decay as paramGroupsWeightDecay does.
 */
export function paramGroupsLayerDecay(arch: string, all: readonly NamedParameter[], weightDecay: number, noDecayNames: Iterable<string>, decay: number): ParamGroup[] {
  const scales = layerDecayScales(arch, all.map((p) => p.name), decay);
  const byScale = new Map<number, NamedParameter[]>();
  for (const p of all) {
    if (!p.param.trainable) continue;
    const s = scales.get(p.name)!;
    if (!byScale.has(s)) byScale.set(s, []);
    byScale.get(s)!.push(p);
  }
  const skip = [...noDecayNames];
  return [...byScale].flatMap(([lrScale, ps]) => paramGroupsWeightDecay(ps, weightDecay, skip).filter((g) => g.params.length > 0).map((g) => ({ ...g, lrScale })));
}
