// bench/soup: a uniform soup of 5 ViT-B/16-sized checkpoints (~346 MB each).
//
// Generates, in a temporary directory, 5 "full fine-tunes" (createModel("vit_base_patch16_224")
// with every parameter nudged by seeded noise), then measures, alternating for `rounds` rounds in
// fresh child processes (best of each kept), with the page cache warm:
//   (a)  reading the 5 files tensor by tensor (openSafetensors + get, nothing else);
//   (a') the bytes alone, as the soup reads them (RawTensorReader.view, no libtorch);
//   (b)  the soup: writeAverage over the 5 files into a new file (read, float64 sum, mean,
//        write, fsync, rename);
//   (b') for reference, the same writer copying one file (a soup of one: read 1, write 1), the
//        floor that writing the output sets.
// Prints the ratio (b)/(a) and the peak RSS (VmHWM from /proc/self/status) of the process doing
// (b). Then the same for 5 "partial fine-tunes" (FAPFT top-k 1..5: only those units and the
// head differ; the frozen rest is identical in all five and copied once): (c). The full set is
// deleted before the partial set is written, so the disk holds ~2.1 GB at most.
// Then, for each set, every soup method over deltas from the pretrained weights (the unperturbed
// model, written as a sixth file): its time and the peak RSS of the process making it, in a fresh
// child each, beside the uniform soup's: the memory bound is per tensor, whatever the method.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor, noGrad, scope, manualSeed, describeEngine, engineInfo } from "../../src/engine/index.js";
import { writeSafetensors, openSafetensors } from "../../src/nn/index.js";
import { createModel, catalogOf } from "../../src/models/index.js";
import { openIngredients, writeAverage, writeMerge, openBase, checkDescent, RawTensorReader, type MergeSpec } from "../../src/soups/index.js";

export interface SoupBenchOptions {
  rounds: number;
  /** Number of checkpoints (default 5, Table 3's). */
  count?: number;
  out?: string;
  log?: (line: string) => void;
}

/** The methods measured, with the parameters of a typical use. */
const METHODS: MergeSpec[] = [
  { method: "uniform" },
  { method: "changed-mean" },
  { method: "task-arithmetic", lambda: 0.2 },
  { method: "ties", density: 0.2 },
  { method: "wise-ft", alpha: 0.5 },
  { method: "model-stock" },
];

interface MethodMeasured {
  method: string;
  /** Check of the base (checkDescent) plus the merge, written. */
  seconds: number;
  peakRssMB: number;
}

interface Measured {
  readSeconds: number;
  rawReadSeconds: number;
  soupSeconds: number;
  copySeconds: number;
  ratio: number;
  soupPeakRssMB: number;
  readPeakRssMB: number;
  averagedTensors: number;
  sharedTensors: number;
  methods: MethodMeasured[];
}

export interface SoupBenchResult {
  count: number;
  fileBytes: number;
  idlePeakRssMB: number;
  full: Measured;
  partial: Measured;
}

interface ChildReport {
  seconds: number;
  vmhwmKB: number;
  differing?: number;
  shared?: number;
}

const MODEL = "vit_base_patch16_224";

/** Writes `count` checkpoints: the model nudged everywhere (full) or only in ingredient k's top-k units and the head (partial). */
function generate(dir: string, count: number, kind: "full" | "partial"): string[] {
  manualSeed(0);
  const model = createModel(MODEL);
  const paths: string[] = [];
  try {
    const base = new Map(model.namedParameters().map(({ name, param }) => [name, param.value.detach().clone().keep()]));
    writeSafetensors(join(dir, "base.safetensors"), model.stateDict(), { model: MODEL });
    const units = catalogOf(model).units;
    for (let k = 0; k < count; k++) {
      manualSeed(100 + k);
      // FAPFT-like top-(k+1): the first k+1 attention and FFN units (which ones does not matter here).
      const trained = new Set(units.filter((u) => u.index <= k).flatMap((u) => u.params));
      noGrad(() => {
        for (const { name, param } of model.namedParameters()) {
          scope(() => {
            const v = param.value;
            v.copy_(base.get(name)!);
            if (kind === "partial" && !trained.has(name) && !name.startsWith("head.")) return;
            const spread = v.numel() > 1 ? v.std().item() : Math.abs(v.item());
            v.add_(Tensor.randn(v.shape).mul(0.01 * (spread || 1e-3)));
          });
        }
      });
      const path = join(dir, `${kind}-${k + 1}.safetensors`);
      writeSafetensors(path, model.stateDict(), { model: MODEL });
      paths.push(path);
    }
    base.forEach((t) => t.dispose());
  } finally {
    model.dispose();
  }
  return paths;
}

function vmhwmKB(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** What a child does: one job, timed from the first read to the last byte written, then its peak RSS. */
function child(job: string, out: string, paths: string[]): ChildReport {
  if (job === "idle") return { seconds: 0, vmhwmKB: vmhwmKB() };
  const t0 = process.hrtime.bigint();
  let extra: Partial<ChildReport> = {};
  if (job === "read") {
    for (const p of paths) {
      using r = openSafetensors(p);
      for (const k of r.keys()) r.get(k).dispose();
    }
  } else if (job === "raw") {
    for (const p of paths) {
      using r = RawTensorReader.open(p);
      for (const k of r.entries.keys()) r.view(k);
    }
  } else if (job === "soup" || job === "copy") {
    using set = openIngredients(job === "copy" ? paths.slice(0, 1) : paths);
    const s = writeAverage(set, out);
    extra = { differing: s.differing.length, shared: s.shared };
  } else if (job.startsWith("merge:")) {
    const spec = JSON.parse(job.slice("merge:".length)) as MergeSpec;
    const [base, ...ings] = paths;
    using set = openIngredients(ings);
    using pre = openBase(base, set);
    checkDescent(set, pre);
    const s = writeMerge(set, pre.reader, out, spec);
    extra = { differing: s.differing.length, shared: s.shared };
  } else throw new Error(`unknown job ${job}`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, vmhwmKB: vmhwmKB(), ...extra };
}

function runChild(job: string, out: string, paths: string[]): ChildReport {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, "--child", job, out, ...paths], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child '${job}' failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildReport;
}

function measure(paths: string[], out: string, rounds: number, log: (l: string) => void): Measured {
  runChild("read", out, paths); // warm the page cache for every side alike
  const reads: ChildReport[] = [];
  const raws: ChildReport[] = [];
  const soups: ChildReport[] = [];
  const copies: ChildReport[] = [];
  for (let i = 0; i < rounds; i++) {
    reads.push(runChild("read", out, paths));
    raws.push(runChild("raw", out, paths));
    soups.push(runChild("soup", out, paths));
    copies.push(runChild("copy", out, paths));
    log(`  round ${i + 1}: read ${reads[i].seconds.toFixed(3)} s, bytes only ${raws[i].seconds.toFixed(3)} s, soup ${soups[i].seconds.toFixed(3)} s, copy one ${copies[i].seconds.toFixed(3)} s`);
  }
  const best = (rs: ChildReport[]) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const a = best(reads);
  const b = best(soups);
  const base = join(dirname(paths[0]), "base.safetensors");
  const methods = METHODS.map((spec) => {
    const r = runChild(`merge:${JSON.stringify(spec)}`, out, [base, ...paths]);
    log(`  ${spec.method}: ${r.seconds.toFixed(3)} s (base check + merge + write), peak RSS ${(r.vmhwmKB / 1024).toFixed(0)} MB`);
    return { method: spec.method, seconds: r.seconds, peakRssMB: r.vmhwmKB / 1024 };
  });
  return {
    readSeconds: a.seconds,
    rawReadSeconds: best(raws).seconds,
    soupSeconds: b.seconds,
    copySeconds: best(copies).seconds,
    ratio: b.seconds / a.seconds,
    soupPeakRssMB: Math.max(...soups.map((r) => r.vmhwmKB)) / 1024,
    readPeakRssMB: Math.max(...reads.map((r) => r.vmhwmKB)) / 1024,
    averagedTensors: b.differing ?? 0,
    sharedTensors: b.shared ?? 0,
    methods,
  };
}

export function runSoupBench(o: SoupBenchOptions): SoupBenchResult {
  const log = o.log ?? ((l: string) => console.log(l));
  const count = o.count ?? 5;
  const dir = mkdtempSync(join(tmpdir(), "pft-bench-soup-"));
  try {
    log(describeEngine(engineInfo()));
    const out = join(dir, "soup.safetensors");
    const report = (what: string, m: Measured, bytes: number) => {
      log(`${what}:`);
      log(`  read ${count} files, tensor by tensor:  ${m.readSeconds.toFixed(3)} s (${(bytes / 1e6 / m.readSeconds).toFixed(0)} MB/s); the bytes alone ${m.rawReadSeconds.toFixed(3)} s`);
      log(`  soup (average + write + fsync):    ${m.soupSeconds.toFixed(3)} s; ${m.averagedTensors} tensors averaged, ${m.sharedTensors} identical in all (copied once)`);
      log(`  copying one file (read 1, write 1): ${m.copySeconds.toFixed(3)} s`);
      log(`  ratio soup / read:                 ${m.ratio.toFixed(2)}`);
      log(`  peak RSS of the soup (VmHWM):      ${m.soupPeakRssMB.toFixed(0)} MB (reading only: ${m.readPeakRssMB.toFixed(0)} MB)`);
      log(`  each method over deltas from the base (check + merge + write; peak RSS; vs the ${count} ingredients' ${(bytes / 1e6).toFixed(0)} MB):`);
      for (const x of m.methods) log(`    ${x.method.padEnd(16)} ${x.seconds.toFixed(3).padStart(8)} s  ${x.peakRssMB.toFixed(0).padStart(6)} MB  (${((100 * x.peakRssMB * 1e6 * 1.048576) / bytes).toFixed(0)}% of the ingredients)`);
    };

    log(`generating ${count} full fine-tunes of ${MODEL} in ${dir} ...`);
    let paths = generate(dir, count, "full");
    const fileBytes = paths.reduce((s, p) => s + statSync(p).size, 0);
    log(`  ${count} x ${(statSync(paths[0]).size / 1e6).toFixed(1)} MB`);
    const full = measure(paths, out, o.rounds, log);
    const idle = runChild("idle", out, paths);
    report("full fine-tunes (every tensor differs)", full, fileBytes);
    paths.forEach((p) => rmSync(p, { force: true }));
    rmSync(out, { force: true });

    log(`generating ${count} partial fine-tunes (top-k 1..${count}) ...`);
    paths = generate(dir, count, "partial");
    const partial = measure(paths, out, o.rounds, log);
    report("partial fine-tunes (frozen units shared)", partial, fileBytes);
    log(`peak RSS of a process that only loads pft: ${(idle.vmhwmKB / 1024).toFixed(0)} MB`);

    const result: SoupBenchResult = { count, fileBytes, idlePeakRssMB: idle.vmhwmKB / 1024, full, partial };
    if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child" && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [job, out, ...paths] = process.argv.slice(3);
  console.log(JSON.stringify(child(job, out, paths)));
}
