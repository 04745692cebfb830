// A run directory, self-describing and resumable:
//
//   OUT/run.json               what ran: model, data, config, seed, trainable names, precision
//   OUT/metrics.jsonl          one JSON line per epoch
//   OUT/model.safetensors      the final weights (best on validation), timm names
//   OUT/best.safetensors       best-on-validation weights so far
//   OUT/ckpt-000003/           the resumable state after 3 epochs: model, optimizer, EMA, state.json
//   OUT/latest.json            names the newest complete ckpt-* directory (the commit point)
//
// Every file is written to a temporary name and renamed; a checkpoint directory is complete
// before latest.json points at it, so a run killed at any moment resumes from the last
// complete epoch. Older checkpoint directories are removed once the pointer moves on.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { RUN_FILES, writeFileAtomic, writeJsonAtomic } from "../files.js";
import { writeSafetensors, readSafetensors } from "../nn/index.js";

export const LATEST = RUN_FILES.latest;

export { writeFileAtomic, writeJsonAtomic };

export function readJson<T>(path: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new PftError("io", `${what} not found: ${path}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new PftError("checkpoint", `${path}: not valid JSON`);
  }
}

export interface ResumeState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  globalStep: number;
  best: { epoch: number; acc: number; loss: number } | null;
  /** libtorch's CPU generator state, base64. */
  rng: string;
  /** The optimizer's state without tensors (tensors are in optimizer.safetensors). */
  optimizer: unknown;
  /** Fingerprint of what must not change across a resume (config, model, data, trainable set). */
  fingerprint: string;
}

export interface CheckpointContents {
  state: ResumeState;
  model: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
  ema: Map<string, Tensor> | null;
}

const ckptName = (epoch: number) => `ckpt-${String(epoch).padStart(6, "0")}`;

/** Writes the checkpoint after `state.epoch` epochs, then commits it by updating latest.json. */
export function saveCheckpoint(dir: string, c: { state: ResumeState; model: Map<string, Tensor>; optimizer: Map<string, Tensor>; ema: Map<string, Tensor> | null }): void {
  mkdirSync(dir, { recursive: true });
  const name = ckptName(c.state.epoch);
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    writeSafetensors(join(tmp, RUN_FILES.weights), c.model);
    writeSafetensors(join(tmp, "optimizer.safetensors"), c.optimizer);
    if (c.ema) writeSafetensors(join(tmp, "ema.safetensors"), c.ema);
    writeJsonAtomic(join(tmp, "state.json"), c.state);
    rmSync(join(dir, name), { recursive: true, force: true });
    renameSync(tmp, join(dir, name));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  writeJsonAtomic(join(dir, LATEST), { checkpoint: name, epoch: c.state.epoch });
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith("ckpt-") && entry !== name) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/** The newest complete checkpoint of a run directory, or null when it has none. */
export function loadCheckpoint(dir: string): CheckpointContents | null {
  const pointer = join(dir, LATEST);
  if (!existsSync(pointer)) return null;
  const { checkpoint } = readJson<{ checkpoint: string }>(pointer, "checkpoint pointer");
  const at = join(dir, checkpoint);
  const state = readJson<ResumeState>(join(at, "state.json"), "checkpoint state");
  const model = readSafetensors(join(at, RUN_FILES.weights)).tensors;
  const optimizer = readSafetensors(join(at, "optimizer.safetensors")).tensors;
  const emaFile = join(at, "ema.safetensors");
  const ema = existsSync(emaFile) ? readSafetensors(emaFile).tensors : null;
  return { state, model, optimizer, ema };
}

export function appendMetrics(dir: string, record: object): void {
  const path = join(dir, RUN_FILES.metrics);
  const prev = existsSync(path) ? readFileSync(path, "utf8") : "";
  writeFileAtomic(path, prev + JSON.stringify(record) + "\n");
}

/** Drops metric lines of epochs after `epoch` (written by a run that died before committing them). */
export function truncateMetrics(dir: string, epoch: number): void {
  const path = join(dir, RUN_FILES.metrics);
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() && (JSON.parse(l) as { epoch?: number }).epoch !== undefined && (JSON.parse(l) as { epoch: number }).epoch <= epoch);
  writeFileAtomic(path, kept.map((l) => l + "\n").join(""));
}
