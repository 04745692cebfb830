// What the paper leaves per architecture, declared in one table keyed by the catalog's arch:
//
//   - which non-unit parameters a partial strategy trains besides the selected units and the
//     classifier. Section 4.1 says non-residual modules are frozen by default; the Params columns
//     of Tables 1, 3 and 8 show that holds for ViT, Swin and AS-MLP, but that ConvNeXt's partial
//     runs also trained its stem, its downsampling layers and the norm before the classifier
//     (the original ConvNeXt code keeps these outside its `stages`). The arithmetic is in
//     docs/partial.md.
//   - Table 7's default top-k per stage, by dataset difficulty.
//
// Nothing else in pft branches on architecture names for partial fine-tuning.
import type { Role } from "../models/index.js";

export type Difficulty = "easy" | "hard";

export interface PartialPolicy {
  /** Non-unit roles every partial strategy (manual and FAPFT) trains, besides the "head" role. */
  extraTrainableRoles: readonly Exclude<Role, "unit" | "head">[];
  /** Table 7's default top-k per stage; null where the paper gives none (AS-MLP on hard datasets). */
  defaultTopk: Readonly<Record<Difficulty, readonly number[] | null>>;
  /** Where the defaults come from, for error messages. */
  source: string;
}

const POLICIES: Readonly<Record<string, PartialPolicy>> = {
  vit: { extraTrainableRoles: [], defaultTopk: { easy: [4], hard: [4] }, source: "Table 7 (ViT-B/16)" },
  swin: { extraTrainableRoles: [], defaultTopk: { easy: [2, 2, 6, 1], hard: [0, 0, 6, 2] }, source: "Table 7 (Swin-B)" },
  convnext: {
    extraTrainableRoles: ["patch_embed", "downsample", "norm"],
    defaultTopk: { easy: [3, 3, 9, 1], hard: [0, 0, 9, 3] },
    source: "Table 7 (ConvNeXt-B)",
  },
  asmlp: { extraTrainableRoles: [], defaultTopk: { easy: [2, 2, 6, 1], hard: null }, source: "Table 7 (AS-MLP-B)" },
};

/** An architecture the paper does not cover: non-residual modules frozen, no default top-k. */
const FALLBACK: PartialPolicy = { extraTrainableRoles: [], defaultTopk: { easy: null, hard: null }, source: "no Table 7 entry" };

export function policyFor(arch: string): PartialPolicy {
  return POLICIES[arch] ?? FALLBACK;
}
