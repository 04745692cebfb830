// Run directories and the rule that makes a study resumable: each run directory holds the inputs
// it was started with (inputs.json). On a rerun, a directory whose inputs are unchanged and whose
// result.json exists is done; unchanged but unfinished, it resumes from its checkpoint; changed
// (or never recorded), it is cleared and run again.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { RUN_FILES, writeJsonAtomic } from "../files.js";
import { readEpochs, readResult, type EpochLine, type RunResultRecord } from "../train/index.js";

/** JSON with object keys sorted at every level: equal values give equal text. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : stableStringify(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableStringify(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

const digests = new Map<string, { key: string; digest: string }>();

/** SHA-256 of a file's bytes (remembered per path while its size and mtime stay the same). */
export function fileDigest(path: string): string {
  const st = statSync(path);
  const key = `${st.size}:${st.mtimeMs}`;
  const have = digests.get(path);
  if (have && have.key === key) return have.digest;
  const digest = sha256(readFileSync(path));
  digests.set(path, { key, digest });
  return digest;
}

export const INPUTS = "inputs.json";

export type RunState = "done" | "resume" | "fresh";

/** Whether a run directory's recorded inputs equal `inputs`. */
export function sameInputs(dir: string, inputs: unknown): boolean {
  const file = join(dir, INPUTS);
  if (!existsSync(file)) return false;
  try {
    return stableStringify(JSON.parse(readFileSync(file, "utf8"))) === stableStringify(inputs);
  } catch {
    return false;
  }
}

/** Finished: the inputs match and the run wrote its result and weights. */
export function isDone(dir: string, inputs: unknown): boolean {
  return sameInputs(dir, inputs) && existsSync(join(dir, RUN_FILES.result)) && existsSync(join(dir, RUN_FILES.weights));
}

/**
 * Gets a run directory ready for `inputs`: "done" (nothing to do), "resume" (same inputs, not
 * finished: train with resume) or "fresh" (cleared, inputs recorded). `cleared` says whether an
 * earlier directory with other inputs was removed.
 */
export function openRun(dir: string, inputs: unknown): { state: RunState; cleared: boolean } {
  if (isDone(dir, inputs)) return { state: "done", cleared: false };
  if (sameInputs(dir, inputs)) return { state: "resume", cleared: false };
  const cleared = existsSync(dir);
  resetRun(dir, inputs);
  return { state: "fresh", cleared };
}

/** Clears a run directory and records `inputs` in it. */
export function resetRun(dir: string, inputs: unknown): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeJsonAtomic(join(dir, INPUTS), inputs);
}

/** What a finished run wrote: result.json and the per-epoch metrics. */
export interface RunOutputs {
  result: Pick<RunResultRecord, "trainable" | "total" | "best" | "test">;
  epochs: EpochLine[];
}

export function readOutputs(dir: string): RunOutputs | null {
  const result = readResult(dir);
  return result ? { result, epochs: readEpochs(dir) } : null;
}
