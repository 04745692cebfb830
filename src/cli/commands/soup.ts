// pft soup: uniform or greedy model soups of full and partial fine-tuning runs.
import { PftError } from "../../errors.js";
import { makeSoup, soupReportPath, SOUP_METHODS, type SoupMethod, type SoupReport } from "../../soups/index.js";
import type { Command } from "../command.js";

const pct = (r: { acc: number } | null): string => (r ? `${(r.acc * 100).toFixed(2)}%` : "-");
/** Millions as the paper prints them; small models get the count itself. */
const count = (n: number, millions?: string | null): string => (n < 1e5 ? n.toLocaleString("en-US") : `${millions ?? (n / 1e6).toFixed(2)}M`);

export const soup: Command = {
  summary: "merge checkpoints into a model soup (uniform, greedy, or over deltas from the pretrained weights)",
  usage: "pft soup --uniform|--greedy|--method M CKPT CKPT... --out soup.safetensors [--base PRE] [--lambda L] [--density D] [--alpha A] [--data SPEC] [--seed S] [--val F] [--no-eval] [--json]",
  flags: {
    uniform: { type: "boolean", help: "the element-wise mean of every checkpoint (--method uniform)" },
    greedy: { type: "boolean", help: "Wortsman et al.'s greedy soup: add checkpoints by validation accuracy while it improves (--method greedy)" },
    method: { type: "string", help: `${SOUP_METHODS.join(", ")}` },
    base: { type: "string", help: "the pretrained weights the checkpoints were fine-tuned from (default: the `from` their run.json records)" },
    lambda: { type: "number", help: "task-arithmetic's (required) and ties' (default 1) scale of the merged delta" },
    density: { type: "number", help: "ties: the fraction of each delta kept, by magnitude, per tensor, in (0, 1]" },
    alpha: { type: "number", help: "wise-ft: the interpolation from the base (0) to the fine-tune or its uniform soup (1)" },
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
    const given = [f.uniform ? "uniform" : null, f.greedy ? "greedy" : null, typeof f.method === "string" ? f.method : null].filter((m): m is string => m !== null);
    if (given.length !== 1) throw new PftError("argument", `give exactly one of --uniform, --greedy or --method (${SOUP_METHODS.join(", ")})`);
    const method = given[0] as SoupMethod;
    if (!SOUP_METHODS.includes(method)) throw new PftError("argument", `unknown soup method '${method}' (${SOUP_METHODS.join(", ")})`);
    const least = method === "wise-ft" ? 1 : 2; // wise-ft interpolates toward one fine-tune, or the soup of several
    if (p.length < least) throw new PftError("argument", `a ${method} soup needs at least ${least === 1 ? "one checkpoint" : "two checkpoints"} (got ${p.length})`);
    for (const [flag, uses] of [["lambda", ["task-arithmetic", "ties"]], ["density", ["ties"]], ["alpha", ["wise-ft"]]] as const) {
      if (f[flag] !== undefined && !(uses as readonly string[]).includes(method)) throw new PftError("argument", `--${flag} is for ${uses.join(" and ")}, not ${method}`);
    }
    const out = f.out;
    if (typeof out !== "string" || !out) throw new PftError("argument", "--out is required");
    const precision = f.precision as string | undefined;
    if (precision !== undefined && precision !== "bf16" && precision !== "fp32") throw new PftError("argument", `--precision takes bf16 or fp32, got '${precision}'`);
    const report = makeSoup({
      method,
      lambda: f.lambda as number | undefined,
      density: f.density as number | undefined,
      alpha: f.alpha as number | undefined,
      base: f.base as string | undefined,
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
  const params = Object.entries(r.spec).filter(([k, v]) => k !== "method" && v !== undefined).map(([k, v]) => `${k} ${v}`).join(", ");
  const lines = [`${r.method} soup${params ? ` (${params})` : ""} of ${r.soup.members.length} of ${r.ingredients.length} checkpoints -> ${r.weights} (report: ${soupReportPath(r.weights)})`];
  if (r.base) lines.push(`base: ${r.base.path}${r.base.recorded ? " (as the runs recorded)" : ""}; descent: ${r.base.evidence.join(", ")}`);
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
  if (r.ensemble) lines.push(`${"ensemble".padEnd(w)}  ${pct(r.ensemble.val).padStart(7)}  ${pct(r.ensemble.test).padStart(7)}  (logit ensemble of the soup's checkpoints: the reference)`);
  if (r.merge) {
    const unbased = r.merge.unbased.length ? `; ${r.merge.unbased.length} not in the base (their uniform mean: ${r.merge.unbased.join(", ")})` : "";
    lines.push(`tensors: ${r.tensors.differing.length} of ${r.tensors.total} merged (${r.params.averaged.toLocaleString("en-US")} values); ${r.tensors.shared} as in the base in every checkpoint (copied once, ${r.params.shared.toLocaleString("en-US")} values)${unbased}`);
  } else {
    lines.push(`tensors: ${r.tensors.differing.length} of ${r.tensors.total} differ between the soup's checkpoints (averaged, ${r.params.averaged.toLocaleString("en-US")} values); ${r.tensors.shared} identical in all (copied once, ${r.params.shared.toLocaleString("en-US")} values)`);
  }
  if (r.params.trained !== null) lines.push(`parameters as Table 3 counts them (the sum of the ingredients' trained parameters): ${r.params.trained.toLocaleString("en-US")}${r.params.trained < 1e5 ? "" : ` (${r.params.millions}M)`}`);
  return lines.join("\n");
}
