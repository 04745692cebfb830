// Tracking files every run directory gets, rebuilt from metrics.jsonl after each epoch (so a
// resumed run's files hold exactly its committed epochs):
//   OUT/summary.csv                     timm's columns: epoch,train_loss,eval_loss,eval_top1,lr
//                                       (eval_top1 in percent, as timm writes it; empty without a validation split)
//   OUT/events.out.tfevents.<T>.pft     TensorBoard scalars per optimizer step at each epoch's end:
//                                       train/loss, eval/loss, eval/top1 (fraction), train/lr, train/images_per_sec
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { RUN_FILES } from "../files.js";
import { writeFileAtomic } from "./checkpoint.js";
import { readEpochs, type EpochLine } from "./rundir.js";
import { eventFile, type ScalarEvent } from "./tensorboard.js";

/** The fields of a metrics.jsonl line that tracking reads. */
type MetricsLine = Pick<EpochLine, "epoch" | "step" | "lr" | "trainLoss" | "valAcc" | "valLoss" | "seconds" | "imagesPerSecond">;

export const SUMMARY_COLUMNS = ["epoch", "train_loss", "eval_loss", "eval_top1", "lr"] as const;

export function summaryCsv(lines: readonly MetricsLine[]): string {
  const rows = lines.map((m) => [m.epoch, m.trainLoss, m.valLoss ?? "", m.valAcc === null ? "" : m.valAcc * 100, m.lr].join(","));
  return [SUMMARY_COLUMNS.join(","), ...rows].join("\n") + "\n";
}

export function scalarEvents(lines: readonly MetricsLine[], startWallTime: number): ScalarEvent[] {
  let t = startWallTime;
  return lines.map((m) => {
    t += m.seconds;
    const scalars = [
      { tag: "train/loss", value: m.trainLoss },
      ...(m.valLoss === null ? [] : [{ tag: "eval/loss", value: m.valLoss }]),
      ...(m.valAcc === null ? [] : [{ tag: "eval/top1", value: m.valAcc }]),
      { tag: "train/lr", value: m.lr },
      { tag: "train/images_per_sec", value: m.imagesPerSecond },
    ];
    return { wallTime: t, step: m.step, scalars };
  });
}

/** Rewrites OUT/summary.csv and OUT's event file from OUT/metrics.jsonl. */
export function writeTracking(dir: string): void {
  const lines = readEpochs(dir);
  writeFileAtomic(join(dir, RUN_FILES.summary), summaryCsv(lines));
  // The run's start: run.json is written once, when the run starts (a resume keeps it).
  const runJson = join(dir, RUN_FILES.manifest);
  const start = existsSync(runJson) ? statSync(runJson).mtimeMs / 1000 : Date.now() / 1000;
  const name = `${RUN_FILES.eventsPrefix}${Math.floor(start)}.pft`;
  for (const f of readdirSync(dir)) if (f.startsWith(RUN_FILES.eventsPrefix) && f !== name) rmSync(join(dir, f), { force: true });
  writeFileAtomic(join(dir, name), eventFile(start, scalarEvents(lines, start)));
}
