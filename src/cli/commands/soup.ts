// pft soup: uniform or greedy model soups of full and partial fine-tuning runs.
import { PftError } from "../../errors.js";
import { makeSoup, soupReportPath, type SoupReport } from "../../soups/index.js";
import type { Command } from "../command.js";

const pct = (r: { acc: number } | null): string => (r ? `${(r.acc * 100).toFixed(2)}%` : "-");
/** Millions as the paper prints them; small models get the count itself. */
const count = (n: number, millions?: string | null): string => (n < 1e5 ? n.toLocaleString("en-US") : `${millions ?? (n / 1e6).toFixed(2)}M`);

export const soup: Command = {
  summary: "average checkpoints into a model soup (uniform, or greedy on held-out validation accuracy)",
  usage: "pft soup --uniform|--greedy CKPT CKPT... --out soup.safetensors [--data SPEC] [--seed S] [--val F] [--no-eval] [--json]",
  flags: {
    uniform: { type: "boolean", help: "the element-wise mean of every checkpoint" },
    greedy: { type: "boolean", help: "Wortsman et al.'s greedy soup: add checkpoints by validation accuracy while it improves" },
    out: { type: "string", help: "the soup's weights (safetensors); the report goes next to it as .json" },
    data: { type: "string", help: "dataset (default: the one the runs recorded)" },
    val: { type: "number", help: "held-out validation fraction of the training split (default: as the runs recorded, else 0.1)" },
    seed: { type: "integer", help: "seed of the validation split (default: the runs' seed, else 0)" },
    "train-per-class": { type: "integer", help: "few-shot count the runs used (default: as recorded)" },
    model: { type: "string", help: "model name (default: the one recorded in the checkpoints)" },
    "batch-size": { type: "integer", default: 256, help: "evaluation batch size" },
    precision: { type: "string", help: "evaluation precision: bf16 (default where the CPU has native bf16) or fp32" },
    "no-eval": { type: "boolean", help: "uniform only: average without evaluating (no data needed)" },
    json: { type: "boolean", help: "print the report (also written next to --out)" },
    quiet: { type: "boolean", help: "no progress lines" },
  },
  run(p, f) {
    if (Boolean(f.uniform) === Boolean(f.greedy)) throw new PftError("argument", "give exactly one of --uniform or --greedy");
    if (p.length < 2) throw new PftError("argument", `a soup needs at least two checkpoints (got ${p.length})`);
    const out = f.out;
    if (typeof out !== "string" || !out) throw new PftError("argument", "--out is required");
    const precision = f.precision as string | undefined;
    if (precision !== undefined && precision !== "bf16" && precision !== "fp32") throw new PftError("argument", `--precision takes bf16 or fp32, got '${precision}'`);
    const report = makeSoup({
      method: f.greedy ? "greedy" : "uniform",
      checkpoints: p,
      out,
      evaluate: !f["no-eval"],
      data: f.data as string | undefined,
      val: f.val as number | undefined,
      seed: f.seed as number | undefined,
      trainPerClass: f["train-per-class"] as number | undefined,
      model: f.model as string | undefined,
      batchSize: f["batch-size"] as number,
      precision,
      log: f.quiet ? undefined : (s) => process.stderr.write(s + "\n"),
    });
    if (f.json) console.log(JSON.stringify(report, null, 2));
    else console.log(summary(report));
  },
};

function summary(r: SoupReport): string {
  const lines = [`${r.method} soup of ${r.soup.members.length} of ${r.ingredients.length} checkpoints -> ${r.weights} (report: ${soupReportPath(r.weights)})`];
  if (r.val) {
    const held = r.val.val < 1 ? `${r.val.val} of the training split` : `${r.val.val} training images`;
    lines.push(`validation: ${r.val.data}, ${held} held out with seed ${r.val.seed}${r.val.heldOutFromAll ? "" : " (not held out of every ingredient)"}`);
  }
  const w = Math.max(...r.ingredients.map((i) => i.path.length), 4);
  lines.push(`${"checkpoint".padEnd(w)}  ${"val".padStart(7)}  ${"test".padStart(7)}  trained  in soup`);
  for (const i of r.ingredients) {
    const trained = i.trainableParams === null ? "?" : count(i.trainableParams);
    lines.push(`${i.path.padEnd(w)}  ${pct(i.val).padStart(7)}  ${pct(i.test).padStart(7)}  ${trained.padStart(7)}  ${i.inSoup ? "yes" : "no"}`);
  }
  lines.push(`${"soup".padEnd(w)}  ${pct(r.soup.val).padStart(7)}  ${pct(r.soup.test).padStart(7)}  ${(r.params.trained === null ? "?" : count(r.params.trained, r.params.millions)).padStart(7)}`);
  lines.push(`tensors: ${r.tensors.differing.length} of ${r.tensors.total} differ between the soup's checkpoints (averaged, ${r.params.averaged.toLocaleString("en-US")} values); ${r.tensors.shared} identical in all (copied once, ${r.params.shared.toLocaleString("en-US")} values)`);
  if (r.params.trained !== null) lines.push(`parameters as Table 3 counts them (the sum of the ingredients' trained parameters): ${r.params.trained.toLocaleString("en-US")}${r.params.trained < 1e5 ? "" : ` (${r.params.millions}M)`}`);
  return lines.join("\n");
}
