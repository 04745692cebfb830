// bench/train: what partial fine-tuning saves. Fine-tuning steps of a small ViT with full, attn,
// ffn, blocks-last-half and linear, each in a fresh process (bench/train/worker.ts), alternating
// over rounds (best throughput kept); images/s and peak memory, each as a ratio to full.
// Memory is the process's peak RSS, and that peak minus the RSS before the first step (the
// training-time part: activations kept for backward, gradients, optimizer state).
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { writeFileSync } from "node:fs";
import { describeEngine } from "../../src/engine/index.js";
import { packageRoot } from "../common.js";

export interface TrainBenchOptions {
  model: string;
  batch: number;
  steps: number;
  warmup: number;
  rounds: number;
  precision: "bf16" | "fp32";
  strategies: string[];
  out?: string;
  log?: (line: string) => void;
}

interface Measurement {
  strategy: string;
  trainable: number;
  total: number;
  imagesPerSecond: number;
  peakRssMiB: number;
  baselineRssMiB: number;
}

export const DEFAULT_STRATEGIES = ["full", "attn", "ffn", "blocks-last-half", "linear"];

function measure(strategy: string, o: TrainBenchOptions): Measurement {
  const worker = resolve(packageRoot(), "dist/bench/train/worker.js");
  const r = spawnSync(process.execPath, [worker, strategy, JSON.stringify({ model: o.model, batch: o.batch, steps: o.steps, warmup: o.warmup, precision: o.precision })], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/train worker (${strategy}) failed: ${r.stderr.trim().split("\n").pop()}`);
  return JSON.parse(r.stdout) as Measurement;
}

export function runTrainBench(o: TrainBenchOptions): Measurement[] {
  const log = o.log ?? ((s: string) => console.log(s));
  log(describeEngine());
  log(`${o.model}, batch ${o.batch}, ${o.precision}, ${o.steps} timed steps after ${o.warmup} warm-up, best of ${o.rounds} rounds`);
  const best = new Map<string, Measurement>();
  for (let round = 1; round <= o.rounds; round++) {
    for (const s of o.strategies) {
      const m = measure(s, o);
      const prev = best.get(s);
      if (!prev || m.imagesPerSecond > prev.imagesPerSecond) best.set(s, m);
      log(`  round ${round}/${o.rounds} ${s}: ${m.imagesPerSecond.toFixed(1)} img/s, peak ${m.peakRssMiB.toFixed(0)} MiB`);
    }
  }
  const rows = o.strategies.map((s) => best.get(s)!);
  const full = best.get("full") ?? rows[0];
  const extra = (m: Measurement) => m.peakRssMiB - m.baselineRssMiB;
  log("");
  log("| strategy | trainable | img/s | speed vs full | peak RSS MiB | vs full | training memory MiB | vs full |");
  log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const m of rows) {
    log(`| ${m.strategy} | ${m.trainable.toLocaleString("en")} | ${m.imagesPerSecond.toFixed(1)} | ${(m.imagesPerSecond / full.imagesPerSecond).toFixed(2)} | ${m.peakRssMiB.toFixed(0)} | ${(m.peakRssMiB / full.peakRssMiB).toFixed(2)} | ${extra(m).toFixed(0)} | ${(extra(m) / extra(full)).toFixed(2)} |`);
  }
  if (o.out) writeFileSync(o.out, JSON.stringify({ options: { ...o, log: undefined }, rows }, null, 2));
  return rows;
}
