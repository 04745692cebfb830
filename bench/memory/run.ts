// bench/memory: does RSS stay flat over many short epochs? `finetune --strategy attn` of the micro
// ViT on the offline digits, 15 steps per epoch (240 training images, batch 16), so evaluation and
// checkpointing repeat every 15 steps, with the default cache and malloc settings. RSS is sampled
// at the end of every epoch; printed: RSS after warm-up (the first 10% of epochs, at least 3), at
// the end, and the growth between them (goal: under 5%), and the growth per epoch.
//
//   node dist/bench/memory/run.js [--steps 6000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEngine, engineInfo, manualSeed, scope } from "../../src/engine/index.js";
import { createModel } from "../../src/models/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { runTraining } from "../../src/train/index.js";

function main(): void {
  const i = process.argv.indexOf("--steps");
  const steps = i > 0 ? Number(process.argv[i + 1]) : 6000;
  const dir = mkdtempSync(join(tmpdir(), "pft-bench-memory-"));
  try {
    const pre = join(dir, "pre.safetensors");
    manualSeed(0);
    const m = createModel("vit_micro_patch4_28", { numClasses: 10 });
    scope(() => writeSafetensors(pre, m.stateDict(), { format: "pt", model: "vit_micro_patch4_28", num_classes: "10" }));
    m.dispose();
    const rss: number[] = [];
    const t0 = Date.now();
    runTraining({
      data: "digits",
      from: pre,
      strategy: "attn",
      trainPerClass: 24,
      val: 24,
      out: join(dir, "run"),
      config: { steps, batchSize: 16, warmupSteps: 15, lr: 1e-3 },
      log: () => {},
      progress: { start() {}, tick() {}, end: () => void rss.push(process.memoryUsage().rss) },
    });
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    const warm = Math.max(3, Math.ceil(rss.length / 10));
    const base = rss[warm - 1];
    const last = rss[rss.length - 1];
    console.log(describeEngine(engineInfo()));
    console.log(`${steps} steps, ${rss.length} epochs of ${Math.ceil(steps / rss.length)} steps, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`RSS after warm-up (epoch ${warm}): ${mb(base)} MiB; at the end: ${mb(last)} MiB; peak ${mb(Math.max(...rss))} MiB`);
    console.log(`growth after warm-up: ${(((last - base) / base) * 100).toFixed(1)}% (goal < 5%), ${((last - base) / 1024 / Math.max(1, rss.length - warm)).toFixed(1)} KiB per epoch`);
    const every = Math.max(1, Math.floor(rss.length / 10));
    console.log(`samples (epoch: MiB): ${rss.map((r, e) => [e + 1, r] as const).filter(([e]) => e % every === 0 || e === rss.length).map(([e, r]) => `${e}: ${mb(r)}`).join(", ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
