import { PftError } from "../../errors.js";
import type { Command } from "../command.js";

export const bench: Command = {
  summary: "benchmarks against Python PyTorch on this machine (bench engine), fine-tuned angles (bench angles), soups (bench soup), partial fine-tuning cost (bench train), every method's train/test cost as Fig. 5 (bench cost)",
  usage: "pft bench engine [--batch 64] [--steps 8] [--warmup 2] [--rounds 2] [--python /usr/bin/python3] [--out results.json] [--profile DIR]\n       pft bench angles [--rounds 2] [--out results.json]\n       pft bench soup [--rounds 2] [--out results.json]\n       pft bench train [--model vit_tiny_patch4_32] [--batch 64] [--steps 8] [--precision bf16] [--rounds 2] [--out results.json]\n       pft bench cost [--model vit_tiny_patch4_32] [--batch 64] [--steps 8] [--warmup 2] [--rounds 2] [--threads 1] [--precision bf16] [--methods full,attn,ffn,fapft,linear,adapter,vpt,ssf,lora] [--plan fapft-plan.json] [--out results.json]",
  flags: {
    batch: { type: "integer", default: 64, help: "images per step" },
    steps: { type: "integer", default: 8, help: "timed steps per configuration" },
    warmup: { type: "integer", default: 2, help: "untimed steps first" },
    rounds: { type: "integer", default: 2, help: "alternating rounds; the best of each side is kept" },
    python: { type: "string", default: "/usr/bin/python3", help: "Python with torch (the peer)" },
    out: { type: "string", help: "also write the results as JSON here" },
    profile: { type: "string", help: "bench engine: also write one profiled pft step per configuration (Chrome traces of libtorch's ops) into this directory" },
    model: { type: "string", default: "vit_tiny_patch4_32", help: "bench train: the model fine-tuned" },
    precision: { type: "string", default: "bf16", help: "bench train: bf16 or fp32" },
    methods: { type: "string", help: "bench cost: comma-separated methods (default: full, attn, ffn, fapft, linear, adapter, vpt, ssf, lora)" },
    plan: { type: "string", help: "bench cost: the FAPFT plan to measure (default: a stand-in selection, docs/benchmarks.md)" },
    threads: { type: "integer", default: 1, help: "bench cost: engine threads per worker (1: latency is CPU time per step, immune to other jobs)" },
  },
  async run(p, f) {
    if (p[0] === "angles") {
      const { runAnglesBench } = await import("../../../bench/angles/run.js");
      runAnglesBench({ rounds: f.rounds as number, out: f.out as string | undefined });
      return;
    }
    if (p[0] === "soup") {
      const { runSoupBench } = await import("../../../bench/soup/run.js");
      runSoupBench({ rounds: f.rounds as number, out: f.out as string | undefined });
      return;
    }
    if (p[0] === "train") {
      const { runTrainBench, DEFAULT_STRATEGIES } = await import("../../../bench/train/run.js");
      const precision = f.precision as string;
      if (precision !== "bf16" && precision !== "fp32") throw new PftError("argument", `--precision must be bf16 or fp32, got '${precision}'`);
      runTrainBench({ model: f.model as string, batch: f.batch as number, steps: f.steps as number, warmup: f.warmup as number, rounds: f.rounds as number, precision, strategies: DEFAULT_STRATEGIES, out: f.out as string | undefined });
      return;
    }
    if (p[0] === "cost") {
      const { runCostBench } = await import("../../../bench/cost/run.js");
      const precision = f.precision as string;
      if (precision !== "bf16" && precision !== "fp32") throw new PftError("argument", `--precision must be bf16 or fp32, got '${precision}'`);
      const methods = f.methods === undefined ? undefined : String(f.methods).split(",").map((m) => m.trim()).filter(Boolean);
      runCostBench({ model: f.model as string, batch: f.batch as number, reps: f.steps as number, warmup: f.warmup as number, rounds: f.rounds as number, threads: f.threads as number, precision, methods, fapftPlan: f.plan as string | undefined, out: f.out as string | undefined });
      return;
    }
    if (p[0] !== "engine") throw new PftError("argument", `unknown benchmark '${p[0] ?? ""}' (available: engine, angles, soup, train, cost)`);
    const { runEngineBench } = await import("../../../bench/engine/run.js");
    runEngineBench({
      batch: f.batch as number,
      steps: f.steps as number,
      warmup: f.warmup as number,
      rounds: f.rounds as number,
      python: f.python as string,
      out: f.out as string | undefined,
      profileDir: f.profile as string | undefined,
    });
  },
};
