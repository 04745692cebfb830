// bench/cost: Fig. 5 of the paper. Training latency per step, training memory, test latency and
// test memory of every method (full, the partial strategies, FAPFT, linear, Adapter, VPT-Deep,
// SSF, LoRA), each method and mode in a fresh process (src/robust/cost-worker.ts), measured the same
// way for all: see src/robust/cost.ts. Prints the table with ratios to full fine-tuning (train)
// and to the plain model (test), and writes the report as JSON with --out.
import { writeFileSync } from "node:fs";
import { costTable, measureCost, type CostOptions, type CostReport } from "../../src/robust/index.js";

export function runCostBench(o: Partial<CostOptions> & { out?: string; log?: (line: string) => void }): CostReport {
  const log = o.log ?? ((s: string) => console.log(s));
  const { out, log: _l, ...options } = o;
  const report = measureCost(options, { log });
  const opt = report.options;
  log(report.engine);
  log(`${report.cpu}; ${opt.vit ? "inline ViT" : opt.model}, batch ${opt.batch}, ${opt.precision}, median of ${opt.reps} steps after ${opt.warmup} warm-up, best of ${opt.rounds} round(s), ${opt.threads === 1 ? "1 engine thread, latency = CPU time per step" : `${opt.threads} engine threads, latency = wall time per step`}`);
  if (report.fapft) log(`FAPFT units: ${report.fapft.units.join(", ")} (${report.fapft.source})`);
  log("");
  log(costTable(report));
  if (out) writeFileSync(out, JSON.stringify(report, null, 2));
  return report;
}
