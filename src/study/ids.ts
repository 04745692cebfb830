// The study's ids, minted here and nowhere else: run slots (runs/<id>/), soups (soups/<id>.*),
// robustness measurements (robust/<id>.json) and cost measurements (cost/<id>.json). The design
// mints slot ids and the runner looks slots up by the same functions, so an id's spelling has
// one home.
import type { Direction } from "../partial/index.js";

interface Keyed {
  key: string;
}

/** "2" for one stage, "0.2" for [0, 2]: top-k in ids. */
export const topkId = (topk: readonly number[]): string => topk.join(".");

export const slotIds = {
  pretrain: (m: Keyed): string => `${m.key}-pretrain`,
  /** Full fine-tuning; `suffix` names a Fig. 4 variant ("-lr0.01", "-ep2") or is empty. */
  full: (m: Keyed, t: Keyed, seed: number, suffix = ""): string => `${m.key}-${t.key}-full${suffix}-s${seed}`,
  fapft: (m: Keyed, t: Keyed, seed: number): string => `${m.key}-${t.key}-fapft-s${seed}`,
  /** A manual strategy or a method, by its key. */
  selection: (m: Keyed, t: Keyed, key: string, seed: number): string => `${m.key}-${t.key}-${key}-s${seed}`,
  /** Fig. 6's ablation and the FAPFT soup's ingredients: a fixed top-k, with a direction or "auto" (the target's). */
  topk: (m: Keyed, t: Keyed, topk: readonly number[], direction: Direction | "auto" | "?", seed: number): string => `${m.key}-${t.key}-top${topkId(topk)}-${direction}-s${seed}`,
};

export const soupId = (m: Keyed, t: Keyed, kind: "fft" | "fapft"): string => `${m.key}-${t.key}-${kind}`;
export const robustnessId = (m: Keyed, t: Keyed): string => `${m.key}-${t.key}`;
export const costId = (m: Keyed): string => m.key;
