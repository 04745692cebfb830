// bench/angles: fine-tuned angles between two ViT-B/16-sized checkpoints (~346 MB each).
//
// Generates a pretrained checkpoint (createModel("vit_base_patch16_224"), saved) and a perturbed
// copy in a temporary directory, then measures, alternating for `rounds` rounds in fresh child
// processes (best of each kept):
//   (a) reading both files tensor by tensor (openSafetensors + get, nothing else), and
//   (b) computing every unit's angle (pft's computeAngles: read, float64 sums, Kahan's formula).
// Also shown: (a') the bytes alone, read the way (b) reads them (openWeights().view(), no libtorch).
// Prints the ratio (b)/(a) (target <= 2.0) and the peak RSS of the process doing (b), VmHWM from
// /proc/self/status (target < 300 MB; the child only computes angles, so generating the
// checkpoints does not count; a child that only loads pft is shown for reference).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor, noGrad, scope, manualSeed, describeEngine, engineInfo } from "../../src/engine/index.js";
import { writeSafetensors, openSafetensors } from "../../src/nn/index.js";
import { createModel } from "../../src/models/index.js";
import { computeAngles, openWeights } from "../../src/partial/index.js";

export interface AnglesBenchOptions {
  rounds: number;
  /** Keep the generated checkpoints in this directory instead of a temporary one. */
  dir?: string;
  out?: string;
  log?: (line: string) => void;
}

export interface AnglesBenchResult {
  fileBytes: number;
  readSeconds: number;
  rawReadSeconds: number;
  anglesSeconds: number;
  ratio: number;
  anglesPeakRssMB: number;
  readPeakRssMB: number;
  idlePeakRssMB: number;
  units: number;
}

interface ChildReport {
  seconds: number;
  vmhwmKB: number;
  units?: number;
}

const MODEL = "vit_base_patch16_224";

/** Writes PRE (the model as built) and FT (every parameter nudged by 1% of its spread) into `dir`. */
function generate(dir: string): { pre: string; ft: string } {
  manualSeed(0);
  const pre = join(dir, "pretrained.safetensors");
  const ft = join(dir, "finetuned.safetensors");
  const model = createModel(MODEL);
  try {
    writeSafetensors(pre, model.stateDict());
    noGrad(() => {
      for (const { param } of model.namedParameters()) {
        scope(() => {
          const v = param.value;
          const spread = v.numel() > 1 ? v.std().item() : Math.abs(v.item());
          v.add_(Tensor.randn(v.shape).mul(0.01 * (spread || 1e-3)));
        });
      }
    });
    writeSafetensors(ft, model.stateDict());
  } finally {
    model.dispose();
  }
  return { pre, ft };
}

function vmhwmKB(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** What a child does: one job, timed from the first read to the last result, then its peak RSS. */
function child(job: string, pre: string, ft: string): ChildReport {
  if (job === "idle") return { seconds: 0, vmhwmKB: vmhwmKB() };
  const t0 = process.hrtime.bigint();
  let units: number | undefined;
  if (job === "read") {
    for (const path of [pre, ft]) {
      using r = openSafetensors(path);
      for (const k of r.keys()) r.get(k).dispose();
    }
  } else if (job === "raw") {
    for (const path of [pre, ft]) {
      using w = openWeights(path);
      for (const k of w.shapes.keys()) w.view(k);
    }
  } else if (job === "angles") {
    units = computeAngles(pre, ft).units.length;
  } else throw new Error(`unknown job ${job}`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, vmhwmKB: vmhwmKB(), units };
}

function runChild(job: string, pre: string, ft: string): ChildReport {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, "--child", job, pre, ft], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child '${job}' failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildReport;
}

export function runAnglesBench(o: AnglesBenchOptions): AnglesBenchResult {
  const log = o.log ?? ((l: string) => console.log(l));
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "pft-bench-angles-"));
  try {
    log(describeEngine(engineInfo()));
    log(`generating two ${MODEL} checkpoints in ${dir} ...`);
    const { pre, ft } = generate(dir);
    const fileBytes = statSync(pre).size + statSync(ft).size;
    log(`  ${(statSync(pre).size / 1e6).toFixed(1)} MB + ${(statSync(ft).size / 1e6).toFixed(1)} MB`);
    runChild("read", pre, ft); // warm the page cache for both sides alike
    const reads: ChildReport[] = [];
    const raws: ChildReport[] = [];
    const angles: ChildReport[] = [];
    for (let i = 0; i < o.rounds; i++) {
      reads.push(runChild("read", pre, ft));
      raws.push(runChild("raw", pre, ft));
      angles.push(runChild("angles", pre, ft));
      log(`  round ${i + 1}: read ${reads[i].seconds.toFixed(3)} s, bytes only ${raws[i].seconds.toFixed(3)} s, angles ${angles[i].seconds.toFixed(3)} s`);
    }
    const idle = runChild("idle", pre, ft);
    const best = (rs: ChildReport[]) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const a = best(reads);
    const b = best(angles);
    const result: AnglesBenchResult = {
      fileBytes,
      readSeconds: a.seconds,
      rawReadSeconds: best(raws).seconds,
      anglesSeconds: b.seconds,
      ratio: b.seconds / a.seconds,
      anglesPeakRssMB: Math.max(...angles.map((r) => r.vmhwmKB)) / 1024,
      readPeakRssMB: Math.max(...reads.map((r) => r.vmhwmKB)) / 1024,
      idlePeakRssMB: idle.vmhwmKB / 1024,
      units: b.units ?? 0,
    };
    log(`read both files, tensor by tensor:   ${result.readSeconds.toFixed(3)} s (${(fileBytes / 1e6 / result.readSeconds).toFixed(0)} MB/s)`);
    log(`  the bytes alone (as angles reads):  ${result.rawReadSeconds.toFixed(3)} s`);
    log(`fine-tuned angles of ${result.units} units:     ${result.anglesSeconds.toFixed(3)} s`);
    log(`ratio angles / read:                 ${result.ratio.toFixed(2)}  (target <= 2.0) ${result.ratio <= 2 ? "ok" : "MISSED"}; angles / bytes alone ${(result.anglesSeconds / result.rawReadSeconds).toFixed(2)}`);
    log(`peak RSS computing angles (VmHWM):   ${result.anglesPeakRssMB.toFixed(0)} MB  (target < 300 MB) ${result.anglesPeakRssMB < 300 ? "ok" : "MISSED"}`);
    log(`  for reference: reading only ${result.readPeakRssMB.toFixed(0)} MB, loading pft only ${result.idlePeakRssMB.toFixed(0)} MB`);
    if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");
    return result;
  } finally {
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child" && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [job, pre, ft] = process.argv.slice(3);
  console.log(JSON.stringify(child(job, pre, ft)));
}
