// Computational cost of every fine-tuning method, measured the same way for all (the paper's
// section 4.6 and Fig. 5): training latency per step, training memory, test latency, test memory.
//
// One measurement = one method in one mode ("train" or "test") in a fresh process (src/robust/cost-
// worker.ts calls measureCostInProcess), so the process's peak RSS belongs to that method alone:
//   - the same batch of random inputs for all, `warmup` untimed steps, then `reps` timed steps;
//     the latency is their median, by default in CPU time with one engine thread (threads: 1),
//     which is what a step costs on an idle core and which other jobs on a shared machine cannot
//     inflate (they do inflate wall time, which is recorded too);
//   - train step: forward (frozen prefix without autograd, as the trainer does), cross-entropy,
//     backward, AdamW step, zero-grad; test step: eval mode, no autograd, forward only;
//   - precision as the trainer: bf16 autocast with float32 weights, or fp32;
//   - test model: what would be deployed, every parameter frozen. Partial strategies, FAPFT and
//     linear probing leave a plain model; SSF and LoRA are merged into it first; Adapter and
//     VPT-Deep keep their modules.
// Memory, two ways:
//   - the engine's accounting of the native tensors JS can see, sum of numel * element size over
//     parameters, buffers, gradients, optimizer state and the batch (inputs, logits), taken in one
//     warm-up step at its fullest (after the optimizer step, before zero-grad). Autograd's saved
//     activations are native tensors JS never sees, so they are only in:
//   - the process's anonymous RSS at the step's fullest (pft's scopes hold a step's intermediates,
//     and autograd its saved tensors, until the step ends, so it is sampled after forward, backward
//     and optimizer step in the warm-up steps) minus the anonymous RSS before the model was built: weights, activations, gradients,
//     optimizer state and allocator slack, without libtorch's code pages, which VmHWM (also
//     reported) counts and which vary with the ops a method happens to touch.
// With rounds > 1 the methods alternate and each keeps its best round (load only ever adds).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { PftError } from "../errors.js";
import { F, Tensor, autocast, describeEngine, manualSeed, noGrad, scope, setNumThreads, type DType } from "../engine/index.js";
import { VisionTransformer, catalogOf, createModel, type Catalog, type VisionModel, type VitConfig } from "../models/index.js";
import { AdamW, paramGroupsWeightDecay, type Optimizer } from "../optim/index.js";
import { loadPlan, parseStrategy, trainableSet } from "../partial/index.js";
import { methodSpec, ownFlags, parseMethod, type Peft } from "../peft/index.js";
import { applySelection, forwardPartial, freezeFor, selectionLabel, type Selection } from "../train/index.js";

/** Fig. 5's methods: full fine-tuning, the partial strategies, FAPFT, and the baselines. */
export const COST_METHODS: readonly string[] = ["full", "attn", "ffn", "fapft", "linear", "adapter", "vpt", "ssf", "lora"];

export interface CostOptions {
  /** Registered model (default vit_tiny_patch4_32). */
  model: string;
  /** Instead of `model`: an inline ViT config (tests use a tiny one; a worker cannot see test registrations). */
  vit?: Partial<VitConfig>;
  /** Classes of the model's head (default: the registered model's own); the study measures its 10-class models. */
  numClasses?: number;
  /** Images per step, train and test (default 64, as bench train; the paper: 128 on an A100). */
  batch: number;
  warmup: number;
  /** Timed steps; the latency is their median. */
  reps: number;
  /** Alternating rounds over all methods, each a fresh process per method and mode; each measure keeps its best round (a shared machine only ever adds). */
  rounds: number;
  /**
   * Engine threads (libtorch and OpenBLAS) in the workers. With 1 (the default) the latency is the
   * process's CPU time per step, which other jobs on the machine cannot inflate; with more, it is
   * wall-clock time.
   */
  threads: number;
  precision: "bf16" | "fp32";
  /** Any of COST_METHODS or another manual strategy (attn-last-half, ...). */
  methods: string[];
  /** A plan file (pft plan) for the `fapft` row; without it (and without fapftUnits), a stand-in selection (see standInFapft). */
  fapftPlan?: string;
  /** Instead of a plan file: FAPFT's chosen units by name (the study passes its plan's units, so the measurement needs no file). */
  fapftUnits?: string[];
  /** Adapter reduction, VPT prompts, LoRA rank, alpha and targets (default: the paper's 64 and 50, LoRA rank 8 on qkv). */
  adapterReduction?: number;
  prompts?: number;
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string;
}

export const COST_DEFAULTS: CostOptions = { model: "vit_tiny_patch4_32", batch: 64, warmup: 2, reps: 8, rounds: 1, threads: 1, precision: "bf16", methods: [...COST_METHODS] };

/** The defaults with the options that are set (an undefined option keeps its default). */
function withDefaults(options: Partial<CostOptions>): CostOptions {
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<CostOptions>;
  const o = { ...COST_DEFAULTS, ...set };
  for (const k of ["batch", "reps", "rounds", "threads"] as const) if (!Number.isInteger(o[k]) || o[k] < 1) throw new PftError("config", `cost: ${k} must be a positive integer, got ${o[k]}`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new PftError("config", `cost: warmup must be a whole number, got ${o.warmup}`);
  if (o.precision !== "bf16" && o.precision !== "fp32") throw new PftError("config", `cost: precision must be bf16 or fp32, got '${o.precision}'`);
  return o;
}

export type CostMode = "train" | "test";

/** One method in one mode, from one process. Times in ms, memory in MiB. */
export interface CostSample {
  method: string;
  mode: CostMode;
  /** Parameters the method trains, and all parameters of the model it trains (method modules included). */
  trainable: number;
  total: number;
  /** In test mode: "plain" (no method modules), "merged" (SSF/LoRA folded in) or "method" (Adapter/VPT-Deep kept). */
  testModel: "plain" | "merged" | "method" | null;
  /** The latency: the median step's CPU time (1 thread) or wall time (more threads); see CostOptions.threads. */
  latencyMs: number;
  clock: "cpu" | "wall";
  /** Wall-clock median, min and max of the timed steps, and the median CPU time (user + system). */
  medianMs: number;
  minMs: number;
  maxMs: number;
  cpuMedianMs: number;
  /** Engine-accounted bytes of the tensors JS holds, at the step's fullest (see the file comment). */
  tensorMiB: number;
  /** Its parts: parameters + buffers, gradients, optimizer state, batch (inputs and logits). */
  tensorParts: { weights: number; grads: number; optimizer: number; batch: number };
  /** Process peak RSS (VmHWM: file-backed code pages of libtorch included) and RSS before the model was built. */
  peakRssMiB: number;
  startRssMiB: number;
  /**
   * The method's memory: peak anonymous RSS sampled in the warm-up steps (after forward, backward
   * and optimizer step) minus anonymous RSS before the model was built. Weights, method modules,
   * activations, gradients, optimizer state and allocator slack; not libtorch's code pages.
   */
  memoryMiB: number;
}

export interface CostRow {
  method: string;
  label: string;
  trainable: number;
  total: number;
  train: CostSample;
  test: CostSample;
  /** Each measure over full fine-tuning's (train) or the plain model's (test: full's test row). */
  ratios: { trainLatency: number; trainMemory: number; trainTensor: number; testLatency: number; testMemory: number; testTensor: number } | null;
}

export interface CostReport {
  options: CostOptions;
  engine: string;
  cpu: string;
  /** FAPFT's units and where they came from. */
  fapft: { source: string; units: string[] } | null;
  rows: CostRow[];
}

// ------------------------------------------------------------------ in-process measurement

const BYTES: Record<DType, number> = { float32: 4, float64: 8, bfloat16: 2, float16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };
const tensorBytes = (t: Tensor) => t.numel() * BYTES[t.dtype];
const MiB = 1024 * 1024;

function procKib(field: string): number {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field));
  return Number(/(\d+) kB/.exec(line ?? "")?.[1] ?? 0);
}

/**
 * FAPFT's stand-in selection when no plan is given: Table 7's ViT-B/16 top-k (4 of 12 blocks per
 * group) scaled to the model's depth, units evenly spread over depth (for 6 blocks: 1 and 4). The
 * angles would pick which units; cost depends on where the first one sits (the frozen prefix runs
 * without autograd), so evenly spread is the middle case. Single-stage models only.
 */
export function standInFapft(catalog: Catalog): { units: string[]; trainable: string[]; count: number } {
  if (catalog.depths.length !== 1) throw new PftError("config", `no FAPFT stand-in for ${catalog.arch}'s ${catalog.depths.length} stages: pass a plan (fapftPlan / --plan)`);
  const k = Math.max(1, Math.round(catalog.depths[0] / 3));
  const units = catalog.groups.flatMap((g) => Array.from({ length: k }, (_, j) => g.units[Math.min(g.units.length - 1, Math.round(((j + 0.5) * g.units.length) / k - 0.5))]));
  const chosen = catalog.units.filter((u) => units.includes(u));
  const set = trainableSet(catalog, "fapft", chosen);
  return { units: chosen.map((u) => u.name), trainable: set.names, count: set.trainable };
}

interface Subject {
  model: VisionModel;
  peft: Peft | null;
  fapftUnits: string[] | null;
}

function buildModel(o: CostOptions): VisionModel {
  const head = o.numClasses === undefined ? {} : { numClasses: o.numClasses };
  return o.vit ? new VisionTransformer({ ...o.vit, ...head }) : createModel(o.model, head);
}

function isMethod(name: string): boolean {
  try {
    return parseMethod(name) !== "linear";
  } catch {
    return false;
  }
}

const fail = (msg: string): never => {
  throw new PftError("config", `cost: ${msg}`);
};

/** The model with the method applied and exactly its parameters trainable. */
function prepare(method: string, o: CostOptions): Subject {
  const model = buildModel(o);
  const catalog = catalogOf(model);
  const subject = (sel: Selection, fapftUnits: string[] | null): Subject => {
    const applied = applySelection(model, sel);
    freezeFor(applied.model, applied.trainable);
    return { model: applied.model, peft: applied.peft, fapftUnits };
  };
  if (isMethod(method)) return subject({ kind: "method", spec: methodSpec(method, ownFlags(method, o)) }, null);
  const id = parseStrategy(method);
  if (id !== "fapft") return subject({ kind: "strategy", strategy: id }, null);
  if (o.fapftUnits) {
    const units = o.fapftUnits.map((name) => catalog.units.find((u) => u.name === name) ?? fail(`FAPFT unit '${name}' is not a unit of ${catalog.arch}`));
    return subject({ kind: "names", name: "fapft", trainable: trainableSet(catalog, "fapft", units).names }, units.map((u) => u.name));
  }
  if (o.fapftPlan) {
    const plan = loadPlan(o.fapftPlan, catalog);
    return subject({ kind: "plan", plan, source: null }, plan.units);
  }
  const s = standInFapft(catalog);
  return subject({ kind: "names", name: "fapft", trainable: s.trainable }, s.units);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Measures one method in one mode in this process (cost-worker.ts runs it in a fresh one). */
export function measureCostInProcess(method: string, mode: CostMode, options: Partial<CostOptions> = {}): CostSample & { fapftUnits: string[] | null } {
  const o = withDefaults(options);
  if (mode !== "train" && mode !== "test") throw new PftError("argument", `mode must be train or test, got '${mode}'`);
  setNumThreads(o.threads);
  const startRss = procKib("VmRSS:");
  const startAnon = procKib("RssAnon:");
  manualSeed(0);
  const { peft, fapftUnits, ...subject } = prepare(method, o);
  let model = subject.model;
  const trainable = model.countParameters({ trainableOnly: true });
  const total = model.countParameters();
  const bf16 = o.precision === "bf16";
  let testModel: CostSample["testModel"] = null;
  if (mode === "test") {
    if (peft?.mergeable) {
      model = peft.merge();
      testModel = "merged";
    } else testModel = peft ? "method" : "plain";
    model.freezeAll(); // deployed: no parameter asks for gradients, whatever the method trained
    model.eval();
  } else model.train();

  const x = Tensor.randn([o.batch, model.inChans, model.imageSize, model.imageSize]).keep();
  const y = Tensor.randint(0, model.numClasses, [o.batch]).keep();
  const params = model.trainableParameters();
  const opt: Optimizer | null = mode === "train" ? new AdamW(paramGroupsWeightDecay(params, 0.05, model.noWeightDecay()), { lr: 1e-4 }) : null;
  const parts = { weights: 0, grads: 0, optimizer: 0, batch: 0 };
  const account = (logits: Tensor) => {
    parts.weights = model.namedParameters().reduce((s, n) => s + tensorBytes(n.param.value), 0) + model.namedBuffers().reduce((s, b) => s + tensorBytes(b.tensor), 0);
    parts.grads = 0;
    parts.optimizer = 0;
    for (const { param } of params) {
      const g = param.value.grad;
      if (g) {
        parts.grads += tensorBytes(g);
        g.dispose();
      }
      for (const t of Object.values(opt?.stateOf(param)?.tensors ?? {})) parts.optimizer += tensorBytes(t);
    }
    parts.batch = tensorBytes(x) + tensorBytes(y) + tensorBytes(logits);
  };

  // anonymous RSS, sampled in the warm-up steps where the step holds the most: pft's scopes keep a
  // step's intermediates (and autograd its saved tensors) until the step ends, so after the forward
  // (and after backward and the optimizer step) nearly everything the step allocated is still there
  let anonPeak = 0;
  const sample = (on: boolean) => {
    if (on) anonPeak = Math.max(anonPeak, procKib("RssAnon:"));
  };
  const step = (instrument: boolean) =>
    scope(() => {
      if (mode === "test") {
        const logits = noGrad(() => autocast(() => model.forward(x), { enabled: bf16 }).float());
        sample(instrument);
        if (instrument) account(logits);
        return;
      }
      const logits = autocast(() => forwardPartial(model, x), { enabled: bf16 }).float();
      sample(instrument);
      F.crossEntropy(logits, y).backward();
      sample(instrument);
      opt!.step();
      sample(instrument);
      if (instrument) account(logits);
      opt!.zeroGrad();
    });

  for (let i = 0; i < Math.max(1, o.warmup); i++) step(true);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < o.reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    step(false);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1e3);
  }
  const clock = o.threads === 1 ? "cpu" : "wall";
  const peak = procKib("VmHWM:");
  x.dispose();
  y.dispose();
  const toMiB = (b: number) => b / MiB;
  return {
    method,
    mode,
    trainable,
    total,
    testModel,
    latencyMs: clock === "cpu" ? median(cpuTimes) : median(times),
    clock,
    cpuMedianMs: median(cpuTimes),
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    tensorMiB: toMiB(parts.weights + parts.grads + parts.optimizer + parts.batch),
    tensorParts: { weights: toMiB(parts.weights), grads: toMiB(parts.grads), optimizer: toMiB(parts.optimizer), batch: toMiB(parts.batch) },
    peakRssMiB: peak / 1024,
    startRssMiB: startRss / 1024,
    memoryMiB: Math.max(0, anonPeak - startAnon) / 1024, // 0 when it all fit in memory the allocator held
    fapftUnits,
  };
}

// ------------------------------------------------------------------ one process per measurement

/** cost-worker.js next to this file. */
export const DEFAULT_COST_WORKER = fileURLToPath(new URL("./cost-worker.js", import.meta.url));

/** Runs one measurement in a fresh Node process and returns its sample. */
export function spawnCostSample(method: string, mode: CostMode, o: CostOptions, worker = DEFAULT_COST_WORKER): CostSample & { fapftUnits: string[] | null } {
  const r = spawnSync(process.execPath, [worker, method, mode, JSON.stringify(o)], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new PftError("engine", `cost worker (${method}, ${mode}) failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as CostSample & { fapftUnits: string[] | null };
}

/** The better of two samples of one method and mode: lowest latencies, lowest memory. */
function best(a: CostSample | undefined, b: CostSample): CostSample {
  if (!a) return b;
  const fast = a.latencyMs <= b.latencyMs ? a : b;
  return { ...fast, memoryMiB: Math.min(a.memoryMiB, b.memoryMiB), peakRssMiB: Math.min(a.peakRssMiB, b.peakRssMiB) };
}

/**
 * Fig. 5's measurements for every method in `o.methods`: in each of `o.rounds` rounds, every
 * method's train then test measurement, each in its own process; per method and mode the best
 * round is kept (lowest latency, lowest memory). Ratios are over `full` when it was measured.
 */
export function measureCost(options: Partial<CostOptions> = {}, opts: { log?: (line: string) => void; worker?: string } = {}): CostReport {
  const o = withDefaults(options);
  const log = opts.log ?? (() => {});
  if (o.methods.length === 0) throw new PftError("config", "no methods to measure");
  const kept = new Map<string, { train?: CostSample; test?: CostSample }>();
  let fapft: CostReport["fapft"] = null;
  const strip = ({ fapftUnits: _u, ...s }: CostSample & { fapftUnits: string[] | null }): CostSample => s;
  for (let round = 1; round <= o.rounds; round++) {
    for (const method of o.methods) {
      const train = spawnCostSample(method, "train", o, opts.worker);
      const test = spawnCostSample(method, "test", o, opts.worker);
      if (train.fapftUnits) fapft = { source: o.fapftUnits ? "the given units" : o.fapftPlan ?? "stand-in: Table 7's top-k scaled to depth, units evenly spread (standInFapft)", units: train.fapftUnits };
      const k = kept.get(method) ?? {};
      kept.set(method, { train: best(k.train, strip(train)), test: best(k.test, strip(test)) });
      log(`round ${round}/${o.rounds} ${method}: train ${train.latencyMs.toFixed(1)} ms/step (wall ${train.medianMs.toFixed(1)}), ${train.memoryMiB.toFixed(0)} MiB (tensors ${train.tensorMiB.toFixed(1)}); test ${test.latencyMs.toFixed(1)} ms/step (wall ${test.medianMs.toFixed(1)}), ${test.memoryMiB.toFixed(0)} MiB (tensors ${test.tensorMiB.toFixed(1)})`);
    }
  }
  const rows: Omit<CostRow, "ratios">[] = o.methods.map((method) => {
    const { train, test } = kept.get(method) as { train: CostSample; test: CostSample };
    return { method, label: selectionLabel(method), trainable: train.trainable, total: train.total, train, test };
  });
  const full = rows.find((r) => r.method === "full");
  const withRatios: CostRow[] = rows.map((r) => ({
    ...r,
    ratios: full
      ? {
          trainLatency: r.train.latencyMs / full.train.latencyMs,
          trainMemory: r.train.memoryMiB / full.train.memoryMiB,
          trainTensor: r.train.tensorMiB / full.train.tensorMiB,
          testLatency: r.test.latencyMs / full.test.latencyMs,
          testMemory: r.test.memoryMiB / full.test.memoryMiB,
          testTensor: r.test.tensorMiB / full.test.tensorMiB,
        }
      : null,
  }));
  const engine = describeEngine().replace(/, \d+ threads,/, `, ${o.threads} thread${o.threads === 1 ? "" : "s"} per worker,`);
  return { options: o, engine, cpu: `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores`, fapft, rows: withRatios };
}

// ------------------------------------------------------------------ for the report

export interface CostPanel {
  /** Fig. 5's panel: a training latency, b training memory, c test latency, d test memory. */
  id: "a" | "b" | "c" | "d";
  title: string;
  unit: string;
  bars: { method: string; label: string; value: number; ratio: number | null }[];
}

/** The four panels of Fig. 5 from a report: one bar per method. Memory is peak RSS minus the start RSS. */
export function costFigure(report: CostReport): CostPanel[] {
  const panel = (id: CostPanel["id"], title: string, unit: string, value: (r: CostRow) => number, ratio: (r: CostRow) => number | null): CostPanel => ({
    id,
    title,
    unit,
    bars: report.rows.map((r) => ({ method: r.method, label: r.label, value: value(r), ratio: ratio(r) })),
  });
  return [
    panel("a", "Training latency", "ms / step", (r) => r.train.latencyMs, (r) => r.ratios?.trainLatency ?? null),
    panel("b", "Training memory", "MiB", (r) => r.train.memoryMiB, (r) => r.ratios?.trainMemory ?? null),
    panel("c", "Test latency", "ms / step", (r) => r.test.latencyMs, (r) => r.ratios?.testLatency ?? null),
    panel("d", "Test memory", "MiB", (r) => r.test.memoryMiB, (r) => r.ratios?.testMemory ?? null),
  ];
}

/** The cost table as Markdown (docs/benchmarks.md, the CLI). */
export function costTable(report: CostReport): string {
  const f = (v: number, d = 1) => v.toFixed(d);
  const r2 = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));
  const lines = [
    "| method | trainable | train ms/step | x full | train MiB | x full | train tensors MiB | test ms/step | x plain | test MiB | x plain | test tensors MiB | test model |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of report.rows) {
    lines.push(
      `| ${r.label} | ${r.trainable.toLocaleString("en")} | ${f(r.train.latencyMs)} | ${r2(r.ratios?.trainLatency)} | ${f(r.train.memoryMiB, 0)} | ${r2(r.ratios?.trainMemory)} | ${f(r.train.tensorMiB)} | ${f(r.test.latencyMs)} | ${r2(r.ratios?.testLatency)} | ${f(r.test.memoryMiB, 0)} | ${r2(r.ratios?.testMemory)} | ${f(r.test.tensorMiB)} | ${r.test.testModel} |`,
    );
  }
  return lines.join("\n");
}
