// bench/engine: the engine against Python PyTorch on the same machine, in the same run.
//
// The same 2.7M-parameter ViT (pft's vit_tiny_patch4_32; bench/engine/peer.py builds it in
// PyTorch): 32x32x3, patch 4, dim 192, depth 6, 3 heads; batch 64, AdamW:
// training and inference images/s in float32 and under bf16 autocast, and training with only
// the last half of the blocks (plus final norm and head) trainable. Each configuration is timed
// `rounds` times on both sides, back to back (PyTorch first in odd rounds, pft first in even
// ones), and the best of each side is kept: this machine has slow and fast spells lasting
// seconds, and timing the two sides of one configuration seconds apart lets both see the same
// spells. Printed as ratios pft / PyTorch; the target is >= 1.0 everywhere.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { Tensor, F, scope, noGrad, autocast, manualSeed, engineInfo, describeEngine, getNumThreads, profile } from "../../src/engine/index.js";
import { AdamW } from "../../src/optim/index.js";
import { createModel, type VitConfig, type VisionTransformer } from "../../src/models/index.js";
import { packageRoot } from "../common.js";

export interface EngineBenchOptions {
  batch: number;
  steps: number;
  warmup: number;
  rounds: number;
  python: string;
  out?: string;
  /** Write one profiled step of each configuration here (Chrome traces, `profile()`). */
  profileDir?: string;
  log?: (line: string) => void;
}

interface BenchConfig {
  id: string;
  kind: "train" | "infer";
  precision: "fp32" | "bf16";
  trainable: "all" | "last-half";
}

const CONFIGS: BenchConfig[] = [
  { id: "train fp32", kind: "train", precision: "fp32", trainable: "all" },
  { id: "train bf16", kind: "train", precision: "bf16", trainable: "all" },
  { id: "train fp32, last half trainable", kind: "train", precision: "fp32", trainable: "last-half" },
  { id: "train bf16, last half trainable", kind: "train", precision: "bf16", trainable: "last-half" },
  { id: "infer fp32", kind: "infer", precision: "fp32", trainable: "all" },
  { id: "infer bf16", kind: "infer", precision: "bf16", trainable: "all" },
];

const MODEL = "vit_tiny_patch4_32";

function benchVitConfig(): VitConfig {
  const model = createModel(MODEL) as VisionTransformer;
  const cfg = { ...model.cfg };
  model.dispose();
  return cfg;
}

function measurePft(c: BenchConfig, o: EngineBenchOptions, traceFile?: string): number {
  manualSeed(0);
  const model = createModel(MODEL) as VisionTransformer;
  const half = model.cfg.depth / 2;
  if (c.trainable === "last-half") {
    model.setTrainable((name) => {
      const m = /^blocks\.(\d+)\./.exec(name);
      return m ? Number(m[1]) < half : !name.startsWith("norm.") && !name.startsWith("head.");
    }, false);
  }
  const opt = new AdamW([{ params: model.trainableParameters() }], { lr: 1e-4 });
  const x = Tensor.randn([o.batch, model.inChans, model.imageSize, model.imageSize]).keep();
  const y = Tensor.randint(0, model.numClasses, [o.batch]).keep();
  const bf16 = c.precision === "bf16";
  const step = () =>
    scope(() => {
      if (c.kind === "train") {
        const loss = autocast(() => F.crossEntropy(model.forward(x), y), { enabled: bf16 });
        loss.backward();
        opt.step();
        opt.zeroGrad();
      } else {
        noGrad(() => autocast(() => model.forward(x), { enabled: bf16 }));
      }
    });
  for (let i = 0; i < o.warmup; i++) step();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.steps; i++) step();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (traceFile) profile(traceFile, step);
  model.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
  return (o.batch * o.steps) / seconds;
}

/** Images/s of one configuration in a fresh Python process (its start-up is not timed). */
function measureTorch(c: BenchConfig, v: VitConfig, o: EngineBenchOptions): number {
  const vit = { imageSize: v.imageSize, patch: v.patchSize, dim: v.embedDim, depth: v.depth, heads: v.numHeads, mlpRatio: v.mlpRatio, classes: v.numClasses };
  const input = { threads: getNumThreads(), batch: o.batch, steps: o.steps, warmup: o.warmup, vit, configs: [c] };
  const r = spawnSync(o.python, [resolve(packageRoot(), "bench/engine/peer.py")], {
    input: JSON.stringify(input),
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: String(getNumThreads()) },
  });
  if (r.status !== 0) throw new Error(`PyTorch peer failed (${o.python}): ${(r.stderr || String(r.error)).trim().split("\n").pop()}`);
  return (JSON.parse(r.stdout) as Record<string, number>)[c.id];
}

export interface EngineBenchRow {
  config: string;
  pft: number;
  torch: number;
  ratio: number;
}

export function runEngineBench(o: EngineBenchOptions): EngineBenchRow[] {
  const log = o.log ?? ((s: string) => console.log(s));
  const info = engineInfo();
  log(describeEngine(info));
  if (!info.cpuBf16) log("note: this CPU has no native bf16 (AVX512-BF16/AMX); bf16 rows measure emulated bf16");
  const v = benchVitConfig();
  log(`${MODEL}: ${v.imageSize}x${v.imageSize}, patch ${v.patchSize}, dim ${v.embedDim}, depth ${v.depth}, ${v.numHeads} heads; batch ${o.batch}, ${o.steps} timed steps after ${o.warmup} warm-up, best of ${o.rounds} rounds`);
  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  const best = new Map<string, { pft: number; torch: number }>(CONFIGS.map((c) => [c.id, { pft: 0, torch: 0 }]));
  for (let round = 1; round <= o.rounds; round++) {
    for (const c of CONFIGS) {
      const b = best.get(c.id)!;
      const trace = o.profileDir && round === o.rounds ? resolve(o.profileDir, `pft-${c.id.replace(/[^a-z0-9]+/gi, "-")}.json`) : undefined;
      const sides = [() => (b.torch = Math.max(b.torch, measureTorch(c, v, o))), () => (b.pft = Math.max(b.pft, measurePft(c, o, trace)))];
      if (round % 2 === 0) sides.reverse();
      for (const measure of sides) measure();
      log(`  round ${round}/${o.rounds} ${c.id}: pft ${b.pft.toFixed(1)} img/s, PyTorch ${b.torch.toFixed(1)} img/s (best so far)`);
    }
  }
  const rows = CONFIGS.map((c) => {
    const b = best.get(c.id)!;
    return { config: c.id, pft: b.pft, torch: b.torch, ratio: b.pft / b.torch };
  });
  log("");
  log("| configuration | pft img/s | PyTorch img/s | pft / PyTorch |");
  log("|---|---:|---:|---:|");
  for (const r of rows) log(`| ${r.config} | ${r.pft.toFixed(1)} | ${r.torch.toFixed(1)} | ${r.ratio.toFixed(2)} |`);
  if (o.out) writeFileSync(o.out, JSON.stringify({ engine: info, options: { ...o, log: undefined }, rows }, null, 2));
  return rows;
}
