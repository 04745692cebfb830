// The pretrained weights a soup's deltas are taken from, and the check that every ingredient
// descends from them. The base is given (`--base PRE`, a weights file or run directory) or, when
// omitted, is the weights every ingredient's run.json records as its `from`, if they all name the
// same file and it exists here. An ingredient descends from the base when:
//   1. its run.json records a `from` that exists here: it must be the base (the same file, or a
//      byte-identical copy); else
//   2. some non-constant floating tensor of it is bit for bit the base's (a frozen unit of a
//      partial fine-tune: a coincidence is out of the question); else
//   3. it lies within MAX_RELATIVE_DISTANCE of the base: |x - b| < |b| over the non-constant
//      tensors they share. Fine-tuning moves weights a small fraction of their norm; a checkpoint of the same
//      architecture from another pretraining lies at about sqrt(2) |b| (independent weights of
//      similar norm). This is the only heuristic, used for bare full fine-tunes that record nothing.
// The base must also be the ingredients' architecture: the same recorded model, and at least half
// of their floating-point values in tensors of the same name, shape and dtype (a head
// re-initialised for other classes is allowed to differ: see merge.ts).
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { isFloatingDType } from "../engine/index.js";
import { PftError } from "../errors.js";
import { resolveWeightsFile } from "../partial/index.js";
import type { Ingredient, IngredientSet } from "./ingredients.js";
import { widen } from "./merge.js";
import { RawTensorReader } from "./stream.js";

/** |x - b| / |b| above which an ingredient without other evidence is not taken as a fine-tune of b. */
export const MAX_RELATIVE_DISTANCE = 1;

export interface SoupBase extends Disposable {
  /** As given (or as the runs recorded it). */
  readonly path: string;
  readonly file: string;
  readonly reader: RawTensorReader;
  /** True when taken from the runs' records rather than given. */
  readonly recorded: boolean;
  close(): void;
}

/** How each ingredient was found to descend from the base. */
export type DescentEvidence = "recorded" | "frozen" | "distance";

export interface DescentReport {
  evidence: DescentEvidence[];
  /** |x - b| / |b| for the ingredients checked by distance (null for the others). */
  relativeDistance: (number | null)[];
}

/** Two paths hold the same weights: the same file, or byte-identical files. */
export function sameWeightsFile(a: string, b: string): boolean {
  if (realpathSync(a) === realpathSync(b)) return true;
  if (statSync(a).size !== statSync(b).size) return false;
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (let pos = 0; ; pos += ba.length) {
      const na = readSync(fa, ba, 0, ba.length, pos);
      const nb = readSync(fb, bb, 0, bb.length, pos);
      if (na !== nb || Buffer.compare(ba.subarray(0, na), bb.subarray(0, nb)) !== 0) return false;
      if (na === 0) return true;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** The weights file an ingredient's run.json records as its `from`, if it exists here. */
function recordedFrom(it: Ingredient): { as: string; file: string } | null {
  const from = it.run?.from;
  if (typeof from !== "string" || !from) return null;
  try {
    return { as: from, file: resolveWeightsFile(resolve(from)) };
  } catch {
    return null; // recorded on another machine or since moved: no evidence either way
  }
}

/**
 * Opens the base: `path` when given, else the `from` every ingredient records (one file, existing
 * here). PftError("argument") when there is none to use.
 */
export function openBase(path: string | undefined, set: IngredientSet): SoupBase {
  let recorded = false;
  if (path === undefined) {
    const froms = set.items.map(recordedFrom);
    const first = froms[0];
    if (!first || froms.some((f) => !f || !sameWeightsFile(f.file, first.file))) {
      throw new PftError("argument", "this soup works on deltas from the pretrained weights: pass them with --base (the ingredients do not all record one that exists here)");
    }
    path = first.as;
    recorded = true;
  }
  const file = resolveWeightsFile(path);
  const reader = RawTensorReader.open(file);
  const close = () => reader.close();
  return { path, file, reader, recorded, close, [Symbol.dispose]: close };
}

/**
 * Throws PftError("checkpoint") with one line naming the first ingredient that does not descend
 * from `base` (see the file's comment for the rules); returns how each one was found to.
 * Streams: one tensor of the base and one of an ingredient at a time.
 */
export function checkDescent(set: IngredientSet, base: SoupBase, members: readonly number[] = set.items.map((_, i) => i)): DescentReport {
  const items = members.map((i) => set.items[i]);
  const baseModel = base.reader.metadata.model;
  if (set.model !== undefined && baseModel !== undefined && set.model !== baseModel) {
    throw new PftError("checkpoint", `the base ${base.path} is a ${baseModel} checkpoint but the ingredients are ${set.model}`);
  }
  // architecture
  const first = items[0].reader;
  let total = 0;
  let based = 0;
  let firstUnbased: string | null = null;
  for (const [name, e] of first.entries) {
    if (!isFloatingDType(e.dtype)) continue;
    const n = e.shape.reduce((a, b) => a * b, 1);
    total += n;
    const be = base.reader.entries.get(name);
    if (be && be.dtype === e.dtype && be.shape.length === e.shape.length && be.shape.every((d, i) => d === e.shape[i])) based += n;
    else firstUnbased ??= name;
  }
  if (based * 2 < total) {
    throw new PftError("checkpoint", `the base ${base.path} is not the ingredients' architecture: ${total - based} of their ${total} values have no tensor of the same name, shape and dtype in it (first: '${firstUnbased}')`);
  }
  // 1. what the runs recorded
  const evidence: (DescentEvidence | null)[] = items.map((it) => {
    const from = recordedFrom(it);
    if (!from) return null;
    if (!sameWeightsFile(from.file, base.file)) {
      throw new PftError("checkpoint", `the ingredients do not share the base: ${it.path} was fine-tuned from ${from.as} (its run.json), not from ${base.path}`);
    }
    return "recorded";
  });
  const open = items.map((_, i) => i).filter((i) => evidence[i] === null);
  const relativeDistance: (number | null)[] = items.map(() => null);
  if (open.length > 0) {
    // 2 and 3, in one streaming pass over the tensors they share with the base
    const sq = new Map(open.map((i) => [i, 0]));
    let baseSq = 0;
    let bvals = new Float64Array(0);
    let xvals = new Float64Array(0);
    for (const [name, e] of first.entries) {
      const be = base.reader.entries.get(name);
      if (!be || !isFloatingDType(e.dtype) || be.dtype !== e.dtype || be.byteLength !== e.byteLength || be.shape.some((d, i) => d !== e.shape[i])) continue;
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (bvals.length < n) {
        bvals = new Float64Array(n);
        xvals = new Float64Array(n);
      }
      const bBytes = base.reader.bytes(name);
      // a constant tensor (fresh LayerNorm ones, zero biases) is alike in any two models: it says nothing
      if (isConstant(bBytes, e.byteLength / n)) continue;
      const b = widen(bBytes, be, bvals.subarray(0, n));
      for (let j = 0; j < n; j++) baseSq += b[j] * b[j];
      for (const i of open) {
        if (evidence[i] !== null) continue;
        const xBytes = items[i].reader.view(name);
        if (Buffer.compare(xBytes, bBytes) === 0) {
          evidence[i] = "frozen";
          continue;
        }
        const x = widen(xBytes, e, xvals.subarray(0, n));
        let s = 0;
        for (let j = 0; j < n; j++) s += (x[j] - b[j]) ** 2;
        sq.set(i, sq.get(i)! + s);
      }
      if (open.every((i) => evidence[i] !== null)) break;
    }
    for (const i of open) {
      if (evidence[i] !== null) continue;
      const r = baseSq > 0 ? Math.sqrt(sq.get(i)! / baseSq) : Infinity;
      relativeDistance[i] = r;
      if (!(r < MAX_RELATIVE_DISTANCE)) {
        throw new PftError("checkpoint", `the ingredients do not share the base: ${items[i].path} is not a fine-tune of ${base.path} (no tensor as in it, and ${r.toFixed(2)} x its norm away; a fine-tune stays within ${MAX_RELATIVE_DISTANCE} x)`);
      }
      evidence[i] = "distance";
    }
  }
  return { evidence: evidence as DescentEvidence[], relativeDistance };
}

/** Every element holds the same bytes (ones, zeros: equal in any two fresh models, so no evidence). */
function isConstant(bytes: Uint8Array, itemSize: number): boolean {
  for (let j = itemSize; j < bytes.length; j += itemSize) {
    for (let b = 0; b < itemSize; b++) if (bytes[j + b] !== bytes[b]) return false;
  }
  return true;
}
