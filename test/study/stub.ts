// A stub study backend: "trains" instantly by writing a run directory the way runTraining does
// (run.json, metrics.jsonl, model.safetensors, result.json), with weights that move each unit by
// a fixed, depth-dependent amount (so the real angle code sees consistent rankings) and a
// deterministic accuracy. It counts its calls and can be told to die mid-run, leaving a partial
// directory behind, as a killed process would. Its cost measurements are fixed numbers per method
// (full fine-tuning the most expensive to train, VPT-Deep the most expensive to test).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createHash } from "node:crypto";
import { Tensor, manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { createModel, catalogFromShapes } from "../../src/models/index.js";
import { readSafetensors, writeSafetensors } from "../../src/nn/index.js";
import { computeAngles, loadPlan, parseStrategy, planForStrategy, type Plan } from "../../src/partial/index.js";
import { countMethodParams } from "../../src/peft/index.js";
import { makeSoup } from "../../src/soups/index.js";
import type { RunOptions } from "../../src/train/index.js";
import { costLabel, type StudyBackend } from "../../src/study/index.js";

export interface StubCall {
  /** The run directory's name (the slot id). */
  id: string;
  /** Whether the call found the partial state a killed call left. */
  resumed: boolean;
}

export class KilledError extends Error {}

/** The plan a run is given: a file (pft plan) or the object itself. */
const planOf = (p: string | Plan): Plan => (typeof p === "string" ? loadPlan(p) : p);

const frac = (s: string): number => parseInt(createHash("sha256").update(s).digest("hex").slice(0, 8), 16) / 0xffffffff;

/** Per method: training ms, training RSS MiB, test ms, test RSS MiB (the stub's "measurements"). */
const STUB_COST: Record<string, [number, number, number, number]> = {
  full: [80, 77, 30, 20],
  attn: [68, 54, 30.5, 20.5],
  ffn: [69, 57, 29.5, 21],
  fapft: [59, 55, 30.2, 20.2],
  linear: [33, 24, 30.1, 20.4],
  adapter: [58, 52, 31, 20],
  vpt: [123, 113, 70, 47],
  ssf: [93, 118, 30.5, 18],
  lora: [62, 55, 30, 18],
};

export function stubBackend(o: { killAtCall?: number } = {}): StudyBackend & { calls: StubCall[]; costCalls: string[] } {
  const calls: StubCall[] = [];
  const costCalls: string[] = [];
  return {
    calls,
    costCalls,
    cost: (r) => {
      costCalls.push(r.model);
      return {
        machine: "stub machine",
        rows: r.methods.map((method) => {
          const [trainMs, trainMiB, testMs, testMiB] = STUB_COST[method];
          const plain = !["adapter", "vpt"].includes(method);
          const measure = (latencyMs: number, rssMiB: number, tensorMiB: number) => ({ latencyMs, wallMs: latencyMs * 1.02, tensorMiB, rssMiB, peakRssMiB: 240 + rssMiB });
          return {
            method,
            label: costLabel(method),
            trainable: method === "full" ? 678_730 : 10_000,
            total: 678_730,
            testModel: plain ? (method === "ssf" || method === "lora" ? "merged" : "plain") : "method",
            train: measure(trainMs, trainMiB, method === "full" ? 10.5 : 5),
            test: measure(testMs, testMiB, plain ? 2.7 : 2.8),
          };
        }),
      };
    },
    engine: () => "stub engine",
    defaultPrecision: () => "bf16",
    angles: computeAngles,
    soup: (opts) => makeSoup({ ...opts, evaluator: (members, split) => ({ acc: 0.6 + 0.01 * members.length + (split === "val" ? 0.005 : 0), loss: 1, n: 100 }) }),
    robustness: (r) => ({
      corruption: { dataset: "digits/test", images: 10 * r.perClass, perClass: r.perClass, seed: r.seed, types: 15 },
      ood: r.ood ? { dataset: "mnist/test", images: 300 } : null,
      rows: r.checkpoints.map((c) => ({ label: c.label, oodAcc: r.ood ? 0.5 + 0.3 * frac(c.label) : null, mce: 0.5 + 0.3 * frac(c.label + "mce"), relativeMce: null, corruptedAcc: 0.5 })),
    }),
    train(r: RunOptions) {
      const id = basename(r.out);
      mkdirSync(r.out, { recursive: true });
      const partial = join(r.out, "partial.json");
      calls.push({ id, resumed: existsSync(partial) });
      writeFileSync(partial, "{}");
      if (o.killAtCall !== undefined && calls.length === o.killAtCall) throw new KilledError(`killed during ${id}`);
      // Identity of the training, independent of where the study directory is.
      const dataset = r.data.split(":")[0];
      const key = JSON.stringify({ dataset, config: r.config, strategy: r.strategy ?? null, method: r.method ?? null, plan: r.plan ? planOf(r.plan).units : null, tpc: r.trainPerClass ?? null });
      let trainable: number;
      let total: number;
      let model: string;
      scope(() =>
        noGrad(() => {
          let weights: Map<string, Tensor>;
          if (!r.from) {
            manualSeed(7);
            const m = createModel(r.model!, { numClasses: 10 });
            weights = m.stateDict();
            model = r.model!;
            total = trainable = m.countParameters();
          } else {
            const pre = readSafetensors(join(r.from, "model.safetensors"));
            model = pre.metadata.model;
            manualSeed(Math.floor(frac(key) * 1e6));
            // Each unit moves by its own fixed amount (deeper units more, FFN more than attention), plus a little noise.
            const scale = (name: string) => {
              const m = /blocks\.(\d+)\.(attn|norm1|mlp|norm2)/.exec(name);
              if (!m) return 0.02;
              return 0.01 * (1 + Number(m[1])) * (m[2] === "mlp" || m[2] === "norm2" ? 1.5 : 1) * (1 + 0.05 * frac(key + name));
            };
            weights = new Map([...pre.tensors].map(([k, t]) => [k, t.add(Tensor.randn(t.shape).mul(scale(k) * (t.abs().mean().item() + 1e-3)))]));
            const shapes = new Map([...pre.tensors].map(([k, t]) => [k, t.shape]));
            const catalog = catalogFromShapes(shapes);
            total = catalog.total;
            if (r.plan) trainable = planOf(r.plan).counts.trainable;
            else if (r.method) trainable = countMethodParams(shapes, r.method).trainable;
            else {
              const s = parseStrategy(r.strategy ?? "full");
              trainable = s === "full" ? total : planForStrategy(catalog, s as Exclude<typeof s, "fapft">).counts.trainable;
            }
          }
          writeSafetensors(join(r.out, "model.safetensors"), weights, { format: "pt", producer: "pft", model: model!, dataset: r.data });
        }),
      );
      const base = dataset === "digits" ? 0.8 : dataset === "mnist" ? 0.95 : 0.6;
      const acc = Math.round((base + 0.05 * frac(key)) * 1000) / 1000;
      const config = { epochs: 1, batchSize: 32, lr: 1e-3, minLr: 1e-6, warmupEpochs: 1, warmupLr: 1e-6, weightDecay: 0.05, clipGrad: 0, labelSmoothing: 0.1, mixup: 0, cutmix: 0, precision: "fp32", ema: 0, ...r.config };
      writeFileSync(join(r.out, "run.json"), JSON.stringify({ model: model!, dataset: r.data, strategy: r.strategy ?? null, seed: config.seed ?? 0, val: r.val, trainPerClass: r.trainPerClass ?? null, config, trainableParams: trainable!, totalParams: total! }));
      writeFileSync(join(r.out, "metrics.jsonl"), JSON.stringify({ epoch: 1, step: 3, lr: 1e-3, trainLoss: 1, valAcc: acc, valLoss: 1, seconds: 1.5, imagesPerSecond: 100 }) + "\n");
      writeFileSync(join(r.out, "result.json"), JSON.stringify({ out: r.out, trainable: trainable!, total: total!, best: { epoch: 1, acc, loss: 1 }, test: { acc, loss: 1, n: 100 }, epochs: [] }));
    },
  };
}

/** The slot ids a finished directory holds (result.json present). */
export function finishedRuns(dir: string, ids: readonly string[]): string[] {
  return ids.filter((id) => existsSync(join(dir, "runs", id, "result.json")));
}

export const readText = (f: string): string => readFileSync(f, "utf8");

