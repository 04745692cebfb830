// The manual partial fine-tuning strategies of section 3.1 (Fig. 3's A-I), linear probing, and
// FAPFT (section 3.2), as sets of residual units of a catalog (Table 6).
//
// Strategies act on units by their functional family: "attn" is the token-mixing unit (ViT/Swin
// attention, AS-MLP's axial-shift unit, Table 6's row of ATTN layers), "ffn" the channel-mixing
// one (FFN, AS-MLP's MLP). ConvNeXt's block is both at once, so only the block strategies (H, I)
// apply to it. Halves are over the model's blocks in order, across stages for four-stage models:
// the first half is the first floor(n/2) blocks, the last half the rest.
import { PftError } from "../errors.js";
import type { Catalog, ResidualUnit, UnitKind } from "../models/index.js";

export type StrategyName =
  | "full"
  | "attn"
  | "ffn"
  | "attn-first-half"
  | "attn-last-half"
  | "ffn-first-half"
  | "ffn-last-half"
  | "blocks-first-half"
  | "blocks-last-half"
  | "linear";

/** A manual strategy or fine-tuned-angle-guided selection. */
export type StrategyId = StrategyName | "fapft";

export interface StrategyInfo {
  name: StrategyName;
  /** Fig. 3's letter (A = full fine-tuning); linear probing has none. */
  letter: string | null;
  family: "attn" | "ffn" | "blocks" | null;
  half: "first" | "last" | null;
  /** How the paper and the report name it (without Fig. 3's letter). */
  label: string;
  description: string;
}

/** FAPFT's display label (it is a selection, not one of the manual strategies). */
export const FAPFT_LABEL = "FAPFT";

export const STRATEGIES: readonly StrategyInfo[] = [
  { name: "full", letter: "A", family: null, half: null, label: "Full fine-tuning", description: "full fine-tuning: every parameter" },
  { name: "attn", letter: "B", family: "attn", half: null, label: "ATTN-only", description: "all attention (token-mixing) units" },
  { name: "ffn", letter: "C", family: "ffn", half: null, label: "FFN-only", description: "all FFN (channel-mixing) units" },
  { name: "attn-first-half", letter: "D", family: "attn", half: "first", label: "ATTN, first half", description: "attention units of the first half of the blocks" },
  { name: "attn-last-half", letter: "E", family: "attn", half: "last", label: "ATTN, last half", description: "attention units of the last half of the blocks" },
  { name: "ffn-first-half", letter: "F", family: "ffn", half: "first", label: "FFN, first half", description: "FFN units of the first half of the blocks" },
  { name: "ffn-last-half", letter: "G", family: "ffn", half: "last", label: "FFN, last half", description: "FFN units of the last half of the blocks" },
  { name: "blocks-first-half", letter: "H", family: "blocks", half: "first", label: "Blocks, first half", description: "every unit of the first half of the blocks" },
  { name: "blocks-last-half", letter: "I", family: "blocks", half: "last", label: "Blocks, last half", description: "every unit of the last half of the blocks" },
  { name: "linear", letter: null, family: null, half: null, label: "Linear probing", description: "linear probing: the classifier only" },
];

/** Which family each unit kind belongs to (Table 6: AS layers sit where ATTN layers do). */
const KIND_FAMILY: Record<UnitKind, "attn" | "ffn" | null> = { attn: "attn", as: "attn", ffn: "ffn", mlp: "ffn", block: null };

const ALIASES: Record<string, StrategyId> = {
  "attn-only": "attn",
  "ffn-only": "ffn",
  "linear-probing": "linear",
  "full-finetuning": "full",
};

/** A strategy by name (full, attn, ..., linear, fapft), Fig. 3's letter (A-I) or a paper alias (attn-only). */
export function parseStrategy(text: string): StrategyId {
  const t = text.trim();
  if (t === "fapft") return "fapft";
  const byName = STRATEGIES.find((s) => s.name === t);
  if (byName) return byName.name;
  const byLetter = STRATEGIES.find((s) => s.letter !== null && s.letter === t.toUpperCase());
  if (byLetter) return byLetter.name;
  const alias = ALIASES[t.toLowerCase()];
  if (alias) return alias;
  const known = STRATEGIES.map((s) => (s.letter ? `${s.name} (${s.letter})` : s.name)).join(", ");
  throw new PftError("config", `unknown strategy '${text}' (known: ${known}, fapft)`);
}

export function strategyInfo(name: StrategyName): StrategyInfo {
  return STRATEGIES.find((s) => s.name === name)!;
}

export function letterOf(id: StrategyId): string | null {
  return id === "fapft" ? null : strategyInfo(id).letter;
}

/** The model's blocks in order across stages, as [stage, index] pairs. */
export function blocksOf(catalog: Catalog): [number, number][] {
  const out: [number, number][] = [];
  catalog.depths.forEach((d, s) => {
    for (let b = 0; b < d; b++) out.push([s, b]);
  });
  return out;
}

/**
 * The residual units a manual strategy fine-tunes, in catalog order. `full` and `linear` select
 * no units (full trains everything, linear only the head; see accounting.ts). A strategy whose
 * family the architecture lacks (attn on ConvNeXt) is PftError("config").
 */
export function unitsForStrategy(catalog: Catalog, name: StrategyName): ResidualUnit[] {
  const info = strategyInfo(name);
  if (info.family === null) return [];
  const family = info.family;
  if (family !== "blocks" && !catalog.units.some((u) => KIND_FAMILY[u.kind] === family)) {
    const kinds = [...new Set(catalog.units.map((u) => u.kind))].join(", ");
    const applicable = STRATEGIES.filter((s) => s.family === null || s.family === "blocks" || catalog.units.some((u) => KIND_FAMILY[u.kind] === s.family)).map((s) => s.name);
    throw new PftError(
      "config",
      `strategy '${name}' (${info.letter}) does not apply to ${catalog.arch}: it has no ${family} units (its residual units are: ${kinds}); applicable: ${applicable.join(", ")}, fapft`,
    );
  }
  let inHalf: (u: ResidualUnit) => boolean = () => true;
  if (info.half) {
    const blocks = blocksOf(catalog);
    const cut = Math.floor(blocks.length / 2);
    const chosen = new Set((info.half === "first" ? blocks.slice(0, cut) : blocks.slice(cut)).map(([s, b]) => `${s}.${b}`));
    inHalf = (u) => chosen.has(`${u.stage}.${u.index}`);
  }
  return catalog.units.filter((u) => (family === "blocks" || KIND_FAMILY[u.kind] === family) && inHalf(u));
}
