// Files every layer writes or names: the one atomic-write helper (temp file in the same directory,
// fsync, rename; the temporary file is removed on failure, so a reader sees the old file or the
// new one, never half of one) and the names of a run directory's files (src/train/rundir.ts reads
// and writes the directory itself).
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { PftError, isPftError } from "./errors.js";

/** The files of a pft run directory, by role. */
export const RUN_FILES = {
  /** The final weights (best on validation), timm names. */
  weights: "model.safetensors",
  /** The manifest: what ran (src/train/rundir.ts: RunManifest). */
  manifest: "run.json",
  /** What came out: test accuracy, best epoch, counts. Written last: its presence means finished. */
  result: "result.json",
  /** One JSON line per epoch. */
  metrics: "metrics.jsonl",
  /** Best-on-validation weights so far, while training. */
  best: "best.safetensors",
  /** Names the newest complete checkpoint directory (the resume commit point). */
  latest: "latest.json",
  /** SSF and LoRA with --merge: the plain model with the method folded in. */
  merged: "merged.safetensors",
  /** The CLI's resolved options as YAML (timm's args.yaml); `--config` takes it back. */
  args: "args.yaml",
  /** timm's columns per epoch: epoch,train_loss,eval_loss,eval_top1,lr. */
  summary: "summary.csv",
  /** timm's hub config (architecture, num_classes, input size, mean/std). */
  hubConfig: "config.json",
  /** The model card. */
  card: "README.md",
  /** The TensorBoard event file's name starts with this. */
  eventsPrefix: "events.out.tfevents.",
  /** The owner's PID while a process writes the directory. */
  lock: ".lock",
} as const;

/** The weights file a path names: the file itself, or DIR/model.safetensors for a run or checkpoint directory. */
export function weightsFileOf(path: string): string {
  if (!existsSync(path)) throw new PftError("io", `${path}: no such file or directory`);
  if (!statSync(path).isDirectory()) return path;
  const inner = join(path, RUN_FILES.weights);
  if (existsSync(inner)) return inner;
  throw new PftError("checkpoint", `${path}: a directory without ${RUN_FILES.weights} (not a pft run or checkpoint directory)`);
}

/** A fresh temporary name next to `path` (same directory, so the rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Writes a file atomically. Errors are PftError("io") naming the file. */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, "wx", 0o644);
    try {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      let done = 0;
      while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (isPftError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new PftError("io", `cannot write ${path}: ${err.code ?? err.message}`, { cause: e });
  }
}

/** JSON, two-space indented, with a final newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
