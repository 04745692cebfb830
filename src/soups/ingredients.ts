// Soup ingredients: checkpoints (a weights file or a pft run directory) with what their run
// recorded, opened for streaming, and checked to be the same architecture: the same tensor names,
// shapes and dtypes. The first mismatch is a PftError("checkpoint") naming the tensor and files.
import { statSync } from "node:fs";
import { PftError } from "../errors.js";
import { weightsFileOf } from "../files.js";
import { naturalCompare } from "../models/index.js";
import { readManifest, readResult, runDirOf, type RunManifest } from "../train/index.js";
import { RawTensorReader } from "./stream.js";

export interface Ingredient {
  /** As given: a weights file or a run directory. */
  readonly path: string;
  /** The safetensors file read. */
  readonly file: string;
  /** The run directory's manifest, when the checkpoint sits in one. */
  readonly run: Partial<RunManifest> | null;
  /** The run's test accuracy from result.json, when it finished. */
  readonly recordedTestAcc: number | null;
  readonly reader: RawTensorReader;
}

/** An open set of ingredients; close() (or `using`) closes every file. */
export interface IngredientSet extends Disposable {
  readonly items: readonly Ingredient[];
  /** Tensor names, identical in every ingredient, in natural key order. */
  readonly names: readonly string[];
  /** The registered model the ingredients record (metadata or run.json), if they do. */
  readonly model: string | undefined;
  close(): void;
}

/**
 * Opens every checkpoint (headers only) and checks they can be averaged: same recorded model,
 * same tensor names, shapes and dtypes as the first. At least one path.
 */
export function openIngredients(paths: readonly string[]): IngredientSet {
  if (paths.length === 0) throw new PftError("argument", "a soup needs at least one checkpoint");
  const items: Ingredient[] = [];
  const close = () => items.forEach((i) => i.reader.close());
  try {
    for (const path of paths) {
      const file = weightsFileOf(path);
      const dir = runDirOf(statSync(path).isDirectory() ? path : file);
      const run = dir ? readManifest(dir) : null;
      const result = dir ? readResult(dir) : null;
      const reader = RawTensorReader.open(file);
      items.push({ path, file, run, recordedTestAcc: typeof result?.test?.acc === "number" ? result.test.acc : null, reader });
    }
    const model = checkIngredients(items);
    const names = [...items[0].reader.entries.keys()].sort(naturalCompare);
    return { items, names, model, close, [Symbol.dispose]: close };
  } catch (e) {
    close();
    throw e;
  }
}

/** The model an ingredient records, from its weights' metadata or its run.json. */
export function recordedModelOf(i: Pick<Ingredient, "reader" | "run">): string | undefined {
  return i.reader.metadata.model ?? i.run?.model;
}

/** Throws PftError("checkpoint") at the first difference from the first ingredient; returns the recorded model. */
function checkIngredients(items: readonly Ingredient[]): string | undefined {
  const [a, ...rest] = items;
  const A = a.reader;
  const keysA = [...A.entries.keys()].sort(naturalCompare);
  let model = recordedModelOf(a);
  for (const b of rest) {
    const B = b.reader;
    const mb = recordedModelOf(b);
    if (model !== undefined && mb !== undefined && model !== mb) {
      throw new PftError("checkpoint", `soup ingredients do not match: ${B.path} is a ${mb} checkpoint but ${A.path} is ${model}`);
    }
    model ??= mb;
    for (const k of keysA) {
      const ea = A.entries.get(k)!;
      const eb = B.entries.get(k);
      if (!eb) throw new PftError("checkpoint", `soup ingredients do not match: tensor '${k}' is in ${A.path} but not in ${B.path}`);
      if (ea.shape.length !== eb.shape.length || ea.shape.some((d, i) => d !== eb.shape[i])) {
        throw new PftError("checkpoint", `soup ingredients do not match: tensor '${k}' has shape [${eb.shape.join(", ")}] in ${B.path} but [${ea.shape.join(", ")}] in ${A.path}`);
      }
      if (ea.dtype !== eb.dtype) throw new PftError("checkpoint", `soup ingredients do not match: tensor '${k}' is ${eb.dtype} in ${B.path} but ${ea.dtype} in ${A.path}`);
    }
    const extra = [...B.entries.keys()].sort(naturalCompare).find((k) => !A.entries.has(k));
    if (extra !== undefined) throw new PftError("checkpoint", `soup ingredients do not match: tensor '${extra}' is in ${B.path} but not in ${A.path}`);
  }
  return model;
}
