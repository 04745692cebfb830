// Records -> the report document: the claims, the tables (Tables 1-4 style) and the figures
// (Figs. 1, 3, 4, 5, 6). Every number is read from the records; nothing is computed from weights here.
import { ablationRuns, checkClaims, COST_NOISE_FLOOR, costNoise, costRatios, difficultyOf, FIG3_ROWS, methodRows, soupsOf, TABLE1_ROWS, type MethodRow } from "./analysis.js";
import type { Block, ReportDocument, Section, Table } from "./document.js";
import type { ConsistencyRecord, CostMethodRecord, CostRecord, RunRecord, StudyRecords } from "./records.js";
import { count, duration, fixed, pct, pctStd, share } from "./stats.js";
import { barChart, COLORS, heatmap, lineChart, scatterChart, valueBarChart, type Bar } from "./svg.js";

const AXIS_WORDS: Record<ConsistencyRecord["axis"], string> = { lr: "learning rates", epochs: "epoch counts", dataset: "datasets", seed: "seeds" };

/** Colour of a method in Fig. 1. */
function methodColor(key: string): string {
  if (key === "full") return COLORS.black;
  if (key === "fapft") return COLORS.red;
  if (key === "linear") return COLORS.grey;
  if (["adapter", "vpt", "ssf", "lora"].includes(key)) return COLORS.orange;
  return COLORS.blue;
}

const safe = (s: string) => s.replace(/[^a-zA-Z0-9_-]+/g, "-");

export function buildDocument(rec: StudyRecords): ReportDocument {
  const finished = rec.runs.filter((r) => r.result).length;
  const claims = checkClaims(rec);
  const intro: Block[] = [
    {
      kind: "p",
      text:
        `The experiments of "Partial Fine-Tuning: A Successor to Full Fine-Tuning for Vision Transformers" (Ye et al.), scaled to small models and offline datasets: ` +
        `pretraining on ${rec.source.dataset}, fine-tuning on ${rec.targets.map((t) => t.dataset).join(" and ")}. ` +
        `Preset \`${rec.preset}\`${rec.configFile ? ` with overrides from \`${rec.configFile}\`` : ""}; ${finished} of ${rec.runs.length} runs finished. ` +
        `Every number below is read from the run records in this directory (\`study.json\`, \`runs/<id>/\`).`,
    },
  ];
  if (finished < rec.runs.length) intro.push({ kind: "p", text: `**Incomplete:** ${rec.runs.length - finished} runs have not finished (the study was stopped, or is still running); their cells show "-". Rerunning \`pft study\` with the same directory finishes them.` });
  if (rec.engine) intro.push({ kind: "p", text: `Engine: ${rec.engine}.` });

  const sections: Section[] = [
    summarySection(rec, claims),
    designSection(rec),
    difficultySection(rec),
    methodsSection(rec),
    fig1Section(rec),
    fig3Section(rec),
    fig4Section(rec),
    fig6Section(rec),
    soupsSection(rec),
    robustSection(rec),
    costSection(rec),
    unavailableSection(rec),
    runsSection(rec),
    configSection(rec),
  ];
  return { title: "Partial fine-tuning at small scale: study report", intro, sections };
}

// ------------------------------------------------------------------------------------------ summary

function summarySection(rec: StudyRecords, claims: ReturnType<typeof checkClaims>): Section {
  const checked = claims.filter((c) => c.verdict !== "n/a");
  const held = checked.filter((c) => c.verdict === "yes").length;
  const blocks: Block[] = [
    {
      kind: "p",
      text: `Each line states one of the paper's claims, where it was tested, whether it holds here, and the numbers. ${held} of ${checked.length} checked claims hold at this scale${claims.length > checked.length ? ` (${claims.length - checked.length} could not be checked)` : ""}. Differences within the seed-to-seed spread are marked as such: with a few seeds and small test sets they are not evidence either way.`,
    },
  ];
  // One list per scope (a model on a target, or a model), in the records' order.
  for (const scope of [...new Set(claims.map((c) => c.scope))]) {
    const mine = claims.filter((c) => c.scope === scope);
    const yes = mine.filter((c) => c.verdict === "yes").length;
    const checkedHere = mine.filter((c) => c.verdict !== "n/a").length;
    blocks.push({ kind: "p", text: `**${scope}**: ${yes} of ${checkedHere} hold` });
    blocks.push({ kind: "claims", items: mine.map((c) => ({ verdict: c.verdict, text: `**${c.claim}** (${c.source}): **${c.verdict}** — ${c.detail}` })) });
  }
  return { id: "summary", title: "Summary: the paper's claims at this scale", blocks };
}

// ------------------------------------------------------------------------------------------ design

function designSection(rec: StudyRecords): Section {
  const data: Table = {
    head: ["role", "key", "dataset", "what", "train images / class", "validation", "test images"],
    align: ["l", "l", "l", "l", "r", "r", "r"],
    rows: [rec.source, ...rec.targets].map((d, i) => [
      i === 0 ? "source (pretraining)" : "target",
      d.key,
      d.dataset,
      d.description,
      d.trainPerClass === null ? "all" : String(d.trainPerClass),
      String(d.val),
      `${count(d.testImages)}${d.testPerClass !== null ? ` (${d.testPerClass}/class, fixed)` : ""}`,
    ]),
  };
  const models: Table = {
    head: ["model", "registered name", "arch", "blocks per stage", "parameters", "FAPFT top-k (easy)", "FAPFT top-k (hard)", "left out"],
    align: ["l", "l", "l", "l", "r", "l", "l", "l"],
    rows: rec.models.map((m) => [m.key, `\`${m.name}\``, m.arch, `[${m.depths.join(", ")}]`, count(m.totalParams), `[${m.fapftTopk.easy.join(", ")}]`, `[${m.fapftTopk.hard.join(", ")}]`, m.notApplicable.map((n) => n.what).join(", ") || "-"]),
  };
  const blocks: Block[] = [{ kind: "table", table: data }, { kind: "table", table: models }];
  for (const m of rec.models) {
    const full = rec.runs.find((r) => r.model === m.key && r.kind === "full" && r.purposes.includes("main"));
    const pre = rec.runs.find((r) => r.model === m.key && r.kind === "pretrain");
    if (full) blocks.push({ kind: "p", text: `**${m.key}** fine-tuning recipe, shared by full fine-tuning, every partial strategy, FAPFT and the baselines: ${recipe(full.config)}. Pretraining: ${pre ? recipe(pre.config) : "-"}; pretrained test accuracy on ${rec.source.dataset}: ${pre?.result ? `${pct(pre.result.testAcc)}% (${count(pre.result.testImages)} images)` : "-"}.` });
    if (m.notApplicable.length) blocks.push({ kind: "p", text: `${m.key} leaves out what does not apply to ${m.arch}:` }, { kind: "list", items: m.notApplicable.map((na) => `${na.what}: ${na.reason}`) });
  }
  const seeds = [...new Set(rec.runs.filter((r) => r.purposes.includes("main")).map((r) => r.seed))].sort((a, b) => a - b);
  blocks.push({ kind: "p", text: `Seeds of the main grid: ${seeds.join(", ")}. A seed fixes the initialisation of new parameters, the data order, augmentation, and also which few-shot images and validation images are drawn, so the spread over seeds includes the choice of the few-shot subset. The test images are fixed.` });
  return { id: "design", title: "Design", blocks };
}

function recipe(c: Record<string, unknown>): string {
  const g = (k: string) => c[k];
  return `${g("epochs")} epochs, batch ${g("batchSize")}, AdamW lr ${g("lr")} (${g("warmupEpochs")} warm-up epochs, cosine to ${g("minLr")}), weight decay ${g("weightDecay")}, label smoothing ${g("labelSmoothing")}, ${g("precision") ?? "bf16/fp32"}`;
}

function difficultySection(rec: StudyRecords): Section {
  const t: Table = {
    head: ["model", "target", "full fine-tuning: validation", "full fine-tuning: test", "difficulty", "how", "FAPFT top-k", "angles"],
    align: ["l", "l", "r", "r", "l", "l", "l", "l"],
    rows: rec.difficulty.map((d) => [d.model, d.target, pct(d.fullValAcc), pct(d.fullTestAcc), `**${d.difficulty}**`, d.how, `[${d.topk.join(", ")}]`, d.direction]),
  };
  const blocks: Block[] = [
    {
      kind: "p",
      text: "Appendix B.2 calls a dataset easy when full fine-tuning reaches higher accuracy on it than on the others, and FAPFT then fine-tunes the units with the **smallest** fine-tuned angles (keeping the pretrained knowledge); on hard datasets it fine-tunes those with the **largest** angles. Here the rule is applied per model to the mean best **validation** accuracy of full fine-tuning over the seeds (the test set is not used to make choices); test accuracy is shown for reference.",
    },
    rec.difficulty.length ? { kind: "table", table: t } : { kind: "p", text: "Not measured yet: the full fine-tuning runs have not finished." },
  ];
  return { id: "difficulty", title: "Which target is easy (appendix B.2)", blocks };
}

// ------------------------------------------------------------------------------------------ Table 1/2

function methodsSection(rec: StudyRecords): Section {
  const blocks: Block[] = [
    {
      kind: "p",
      text: "Test accuracy (%) as mean ± standard deviation over the seeds, and trainable parameters (exact; the share of the model in parentheses), as Tables 1 and 2 lay them out. Partial fine-tuning (ATTN-only, FFN-only, FAPFT) uses the full fine-tune's hyper-parameters, as in the paper; unlike the paper, the baselines are not tuned separately either. The best accuracy per column is in bold.",
    },
  ];
  for (const m of rec.models) {
    const rowsByTarget = rec.targets.map((t) => methodRows(rec, m.key, t.key));
    const keys = TABLE1_ROWS.filter((k) => rowsByTarget.some((rows) => rows.has(k)));
    const best = rowsByTarget.map((rows) => Math.max(...keys.map((k) => rows.get(k)?.acc?.mean ?? -1)));
    const table: Table = {
      head: ["method", ...rec.targets.flatMap((t) => [`${t.key} acc.`, `${t.key} params`]), "mean acc."],
      align: ["l", ...rec.targets.flatMap(() => ["r", "r"] as const), "r"],
      rows: keys.map((k) => {
        const label = rowsByTarget.find((rows) => rows.get(k))!.get(k)!.label;
        const cells = rowsByTarget.flatMap((rows, i) => {
          const row = rows.get(k);
          const a = pctStd(row?.acc ?? null);
          return [row?.acc && row.acc.mean === best[i] ? `**${a}**` : a, row?.trainable ? `${count(row.trainable)} (${share(row.trainable, m.totalParams)})` : "-"];
        });
        const means = rowsByTarget.map((rows) => rows.get(k)?.acc?.mean);
        const all = means.every((x) => x !== undefined);
        return [label, ...cells, all ? pct(means.reduce((a, b) => a! + b!, 0)! / means.length) : "-"];
      }),
    };
    blocks.push({ kind: "p", text: `**${m.key}** (\`${m.name}\`, ${count(m.totalParams)} parameters)` }, { kind: "table", table });
  }
  return { id: "methods", title: "Fine-tuning methods compared (Tables 1 and 2)", blocks };
}

// ------------------------------------------------------------------------------------------ figures

function fig1Section(rec: StudyRecords): Section {
  const blocks: Block[] = [{ kind: "p", text: "Test accuracy against trainable parameters (log scale), one point per method (mean over seeds, bar = one standard deviation), as Fig. 1 plots them. Up and to the left is better." }];
  for (const m of rec.models) {
    for (const t of rec.targets) {
      const rows = methodRows(rec, m.key, t.key);
      const points = TABLE1_ROWS.map((k) => rows.get(k))
        .filter((r): r is MethodRow => !!r && !!r.acc && r.trainable !== null)
        .map((r) => ({ x: r.trainable!, y: r.acc!.mean * 100, err: r.acc!.n > 1 ? r.acc!.std * 100 : null, label: shortLabel(r), color: methodColor(r.key) }));
      if (!points.length) continue;
      const id = safe(`fig1-${m.key}-${t.key}`);
      const svg = scatterChart({
        id,
        title: `${m.key} on ${t.key}: accuracy vs trainable parameters`,
        xLabel: "trainable parameters (log scale)",
        yLabel: "test accuracy (%)",
        points,
        legend: [
          { label: "full", color: COLORS.black },
          { label: "FAPFT", color: COLORS.red },
          { label: "manual partial", color: COLORS.blue },
          { label: "parameter-efficient", color: COLORS.orange },
          { label: "linear", color: COLORS.grey },
        ],
      });
      blocks.push({ kind: "figure", figure: { id, title: `Fig. 1 analogue: ${m.key} on ${t.key}`, svg, caption: `${m.key} on ${t.key}: test accuracy (${seedCount(rows) > 1 ? `mean over ${seedCount(rows)} seeds` : "one seed"}) against trainable parameters.` } });
    }
  }
  return { id: "fig1", title: "Accuracy vs trainable parameters (Fig. 1)", blocks };
}

const shortLabel = (r: MethodRow): string => (r.key === "full" ? "Full" : r.key === "linear" ? "Linear" : r.key === "fapft" ? "FAPFT" : r.label.replace(/ \(.\)$/, ""));
const seedCount = (rows: Map<string, MethodRow>) => Math.max(0, ...[...rows.values()].map((r) => r.acc?.n ?? 0));

function fig3Section(rec: StudyRecords): Section {
  const blocks: Block[] = [{ kind: "p", text: "Full fine-tuning (A) and the eight manual strategies: B all attention units, C all FFN units, D/E attention of the first/last half of the blocks, F/G FFN of the first/last half, H/I every unit of the first/last half (Fig. 3). Bars are mean test accuracy over the seeds with one standard deviation; under each letter, the share of parameters trained." }];
  const numbers: Block[] = [];
  for (const m of rec.models) {
    for (const t of rec.targets) {
      const rows = methodRows(rec, m.key, t.key);
      if (!FIG3_ROWS.some((k) => rows.has(k))) continue;
      const letters = "ABCDEFGHI";
      const bars: Bar[] = FIG3_ROWS.map((k, i) => {
        const r = rows.get(k);
        return { label: letters[i], sub: r?.trainable ? share(r.trainable, m.totalParams) : r ? "-" : "n/a", value: r?.acc ? r.acc.mean * 100 : null, err: r?.acc && r.acc.n > 1 ? r.acc.std * 100 : null, color: k === "full" ? COLORS.black : COLORS.blue };
      });
      const id = safe(`fig3-${m.key}-${t.key}`);
      const svg = barChart({ id, title: `${m.key} on ${t.key}: manual strategies A-I`, yLabel: "test accuracy (%)", bars });
      blocks.push({ kind: "figure", figure: { id, title: `Fig. 3 analogue: ${m.key} on ${t.key}`, svg, caption: `${m.key} on ${t.key}: A = full fine-tuning; n/a = the strategy does not apply to ${m.arch}.` } });
      const table: Table = {
        head: ["", "strategy", "test acc.", "validation acc.", "trainable", "seeds"],
        align: ["l", "l", "r", "r", "r", "r"],
        rows: FIG3_ROWS.map((k, i) => {
          const r = rows.get(k);
          return [letters[i], r?.label ?? k, pctStd(r?.acc ?? null), pctStd(r?.val ?? null), r?.trainable ? `${count(r.trainable)} (${share(r.trainable, m.totalParams)})` : r ? "-" : "n/a", r ? String(r.acc?.n ?? 0) : "-"];
        }),
      };
      numbers.push({ kind: "table", table, caption: `Numbers: ${m.key} on ${t.key}`, collapsed: true });
    }
  }
  return { id: "fig3", title: "Manual partial fine-tuning strategies (Fig. 3)", blocks: [...blocks, ...numbers] };
}

function fig4Section(rec: StudyRecords): Section {
  const blocks: Block[] = [
    {
      kind: "p",
      text: "The fine-tuned angle (Eq. 2) of every unit between the pretrained and the fully fine-tuned weights, ranked within each homogeneous group (1 = largest angle, lightest colour), for full fine-tunes that differ in one setting. Rows go from the first block to the last, as in Fig. 4. Under each group: Kendall's tau between the columns (mean over pairs); 1 means the same order.",
    },
  ];
  const summary: Table = { head: ["model", "target", "varies", "columns", "mean Kendall tau", "per group"], align: ["l", "l", "l", "l", "r", "l"], rows: [] };
  for (const c of rec.consistency) {
    const m = rec.models.find((x) => x.key === c.model);
    const id = safe(`fig4-${c.model}-${c.axis}-${c.columns.map((x) => x.run).join("-")}`).slice(0, 120);
    const shortUnit = (u: string) => u.replace(/^blocks\./, "").replace(/^layers\./, "").replace(/^stages\./, "").replace(/\.blocks\./, ".");
    const svg = heatmap({
      id,
      title: `${c.model}: angle ranks across ${AXIS_WORDS[c.axis]}${c.axis === "dataset" ? "" : ` on ${c.columns[0].target}`} (mean tau ${fixed(c.meanTau)})`,
      blocks: c.groups.map((g) => ({
        title: `group ${g.group}`,
        columns: c.columns.map((x) => x.label),
        rows: g.units.map(shortUnit),
        values: g.units.map((_, i) => g.ranks.map((col) => col[i] ?? null)),
        max: g.units.length,
        note: `tau ${fixed(g.meanTau)}`,
      })),
    });
    blocks.push({ kind: "figure", figure: { id, title: `Fig. 4 analogue: ${c.model}, ${AXIS_WORDS[c.axis]}`, svg, caption: `${m?.name ?? c.model}: ranks of the fine-tuned angles across ${AXIS_WORDS[c.axis]} (${c.columns.map((x) => `${x.label} = ${x.run}`).join("; ")}).` } });
    summary.rows.push([c.model, [...new Set(c.columns.map((x) => x.target))].join(", "), AXIS_WORDS[c.axis], c.columns.map((x) => x.label).join(" / "), fixed(c.meanTau), c.groups.map((g) => `${g.group} ${fixed(g.meanTau)}`).join(", ")]);
  }
  if (summary.rows.length) blocks.push({ kind: "table", table: summary });
  else blocks.push({ kind: "p", text: "No rankings yet: the full fine-tuning runs they compare have not finished." });
  const angleTable = anglesTable(rec);
  if (angleTable) blocks.push({ kind: "table", table: angleTable, caption: "Fine-tuned angles (degrees) of every unit, main full fine-tunes", collapsed: true });
  return { id: "fig4", title: "Consistency of the fine-tuned angle rankings (Fig. 4)", blocks };
}

function anglesTable(rec: StudyRecords): Table | null {
  const sets = rec.angles.filter((a) => {
    const r = rec.runs.find((x) => x.id === a.run);
    return r?.purposes.includes("main");
  });
  if (!sets.length) return null;
  const units = [...new Set(sets.flatMap((s) => Object.keys(s.angles)))];
  return {
    head: ["unit", ...sets.map((s) => s.run)],
    align: ["l", ...sets.map(() => "r" as const)],
    rows: units.map((u) => [u, ...sets.map((s) => (s.angles[u] === undefined ? "-" : s.angles[u].toFixed(3)))]),
  };
}

function fig6Section(rec: StudyRecords): Section {
  const blocks: Block[] = [
    {
      kind: "p",
      text: "FAPFT with k units per homogeneous group chosen by the largest or by the smallest fine-tuned angles (Fig. 6), one seed (the first), angles from that seed's full fine-tune. The dashed line is full fine-tuning with the same seed. The paper finds smallest angles better on the easy dataset and largest angles better on the hard one.",
    },
  ];
  const numbers: Block[] = [];
  for (const m of rec.models) {
    for (const t of rec.targets) {
      const ab = ablationRuns(rec, m.key, t.key);
      if (!ab.topk.length) continue;
      const seed = ab.largest.concat(ab.smallest).find((r) => r)?.seed ?? 0;
      const full = rec.runs.find((r) => r.model === m.key && r.target === t.key && r.kind === "full" && r.variant === null && r.seed === seed);
      const d = difficultyOf(rec, m.key, t.key);
      const acc = (r: RunRecord | null) => (r?.result ? r.result.testAcc * 100 : null);
      const id = safe(`fig6-${m.key}-${t.key}`);
      const svg = lineChart({
        id,
        title: `${m.key} on ${t.key}${d ? ` (${d.difficulty})` : ""}: top-k by angle`,
        xLabel: "top-k (units per group)",
        yLabel: "test accuracy (%)",
        x: ab.topk,
        series: [
          { name: "largest angles", color: COLORS.blue, values: ab.largest.map(acc) },
          { name: "smallest angles", color: COLORS.orange, values: ab.smallest.map(acc) },
        ],
        reference: full?.result ? { value: full.result.testAcc * 100, label: `full fine-tuning (seed ${seed})` } : null,
      });
      blocks.push({ kind: "figure", figure: { id, title: `Fig. 6 analogue: ${m.key} on ${t.key}`, svg, caption: `${m.key} on ${t.key}${d ? `, ${d.difficulty} by the rule, so FAPFT uses the ${d.direction} angles` : ""}.` } });
      numbers.push({
        kind: "table",
        caption: `Numbers: ${m.key} on ${t.key}`,
        collapsed: true,
        table: {
          head: ["top-k", "largest: test acc.", "smallest: test acc.", "trainable", "largest − smallest"],
          align: ["l", "r", "r", "r", "r"],
          rows: ab.topk.map((k, i) => {
            const a = ab.largest[i]?.result;
            const b = ab.smallest[i]?.result;
            return [k, pct(a?.testAcc), pct(b?.testAcc), count(a?.trainable ?? b?.trainable), a && b ? fixed((a.testAcc - b.testAcc) * 100) : "-"];
          }),
        },
      });
    }
  }
  if (blocks.length === 1) blocks.push({ kind: "p", text: "The ablation has not run (or is disabled in the configuration)." });
  return { id: "fig6", title: "Top-k and the angle direction (Fig. 6)", blocks: [...blocks, ...numbers] };
}

function soupsSection(rec: StudyRecords): Section {
  const blocks: Block[] = [
    {
      kind: "p",
      text: "Table 3's comparison: a uniform soup (the element-wise mean of the weights) of full fine-tunes that differ in learning rate and seed, against a soup of FAPFT runs that share one set of hyper-parameters and differ only in top-k. Params counts the parameters each run trained; a soup's is their sum, as Table 3 counts it. Soups are judged on the validation split of the first seed.",
    },
  ];
  for (const m of rec.models) {
    for (const t of rec.targets) {
      const { fft, fapft } = soupsOf(rec, m.key, t.key);
      if (!fft && !fapft) continue;
      const n = Math.max(fft?.ingredients.length ?? 0, fapft?.ingredients.length ?? 0);
      const rows: string[][] = [];
      for (let i = 0; i < n; i++) {
        const a = fft?.ingredients[i];
        const b = fapft?.ingredients[i];
        rows.push([`run${i + 1}`, a ? `lr ${a.lr}, seed ${a.seed}` : "", pct(a?.testAcc), count(a?.trainable), b ? `top-k [${(b.topk ?? []).join(", ")}]` : "", pct(b?.testAcc), count(b?.trainable)]);
      }
      rows.push(["**Soup**", fft?.soup ? `${fft.soup.members.length} runs` : "", `**${pct(fft?.soup?.testAcc)}**`, count(fft?.soup?.trainedParams), fapft?.soup ? `${fapft.soup.members.length} runs` : "", `**${pct(fapft?.soup?.testAcc)}**`, count(fapft?.soup?.trainedParams)]);
      blocks.push({ kind: "p", text: `**${m.key} on ${t.key}**${fft?.heldOutFromAll === false || fapft?.heldOutFromAll === false ? " (the validation split was not held out of every full fine-tune: their seeds differ)" : ""}` });
      blocks.push({ kind: "table", table: { head: ["Exp.", "FFT config", "FFT acc.", "FFT params", "FAPFT config", "FAPFT acc.", "FAPFT params"], align: ["l", "l", "r", "r", "l", "r", "r"], rows } });
    }
  }
  if (blocks.length === 1) blocks.push({ kind: "p", text: "No soups in this study (disabled in the configuration)." });
  return { id: "soups", title: "Model soups (Table 3)", blocks };
}

function robustSection(rec: StudyRecords): Section {
  const blocks: Block[] = [];
  for (const rb of rec.robustness) {
    const c = rb.corruption;
    blocks.push({
      kind: "p",
      text: `**${rb.model}, fine-tuned on ${rb.target}** (first seed). Corruptions: the first ${c.perClass ?? "all"} test images of each class (${count(c.images)} images) under ${c.types} corruption types at 5 severities each (src/robust's ImageNet-C analogue); mCE is Hendrycks' mean corruption error relative to a nearest-class-mean reference (lower is better; 100 = as bad as the reference). ${rb.ood ? `Out of distribution: ${rb.ood.dataset} (${count(rb.ood.images)} images, the same ten classes drawn another way; for a model pretrained on MNIST this also measures how much of the pretraining domain fine-tuning kept).` : ""}`,
    });
    blocks.push({
      kind: "table",
      table: {
        head: ["method", `${rb.target} acc.`, rb.ood ? `${rb.ood.dataset} acc. (OOD)` : "OOD", "corrupted acc.", "mCE", "relative mCE", "params"],
        align: ["l", "r", "r", "r", "r", "r", "r"],
        rows: rb.rows.map((r) => [r.label, pct(r.iidAcc), pct(r.oodAcc), pct(r.corruptedAcc), pct(r.mce), pct(r.relativeMce), count(r.trainable)]),
      },
    });
  }
  if (!blocks.length) blocks.push({ kind: "p", text: "Not measured in this study (see the configuration's `robustness`)." });
  else blocks.unshift({ kind: "p", text: "Table 4's comparison at this scale: accuracy on the target's test split, on a shifted dataset with the same classes, and under corruptions, for full fine-tuning, the two manual strategies, FAPFT and both soups. Percentages; one seed, so differences of a point or two are within noise." });
  return { id: "robust", title: "Robustness and out-of-distribution accuracy (Table 4)", blocks };
}

/** Fig. 5's bar labels: short enough for nine bars side by side. */
const COST_SHORT: Record<string, string> = { full: "Full", attn: "ATTN", ffn: "FFN", fapft: "FAPFT", linear: "Linear", adapter: "Adapter", vpt: "VPT", ssf: "SSF", lora: "LoRA" };

/** MiB with a precision that suits its size. */
const mib = (x: number): string => x.toFixed(x >= 100 ? 0 : 1);
const ms = (x: number): string => x.toFixed(1);
const withRatio = (value: string, r: number | null): string => (r === null ? value : `${value} (${r.toFixed(2)}×)`);
const COST_FLOOR_WORDS = `${(COST_NOISE_FLOOR.latency * 100).toFixed(0)}% in latency and ${COST_NOISE_FLOOR.rssMiB} MiB in RSS`;

function costSection(rec: StudyRecords): Section {
  const cost = rec.cost ?? [];
  if (!cost.length) return { id: "cost", title: "Computational cost (Fig. 5)", blocks: [{ kind: "p", text: "Not measured in this study (see the configuration's `cost`)." }] };
  const blocks: Block[] = [
    {
      kind: "p",
      text:
        "Fig. 5's four measures for every method the study fine-tunes, on the study's own models (10-class heads), with its method options, precision and batch size, all measured the same way. " +
        "Each method's training step and test step runs in a fresh process of its own, on one batch of random images: untimed warm-up steps, then timed steps, whose median is the latency. " +
        "The training step is the trainer's: forward (the frozen prefix outside autograd), cross-entropy, backward, AdamW step. " +
        "The test step runs the model as deployed, in eval mode without autograd: the plain model for full fine-tuning, the partial strategies, FAPFT and linear probing; SSF and LoRA merged into it; Adapter and VPT-Deep with their modules. " +
        "With one engine thread per worker the latency is the worker's CPU time per step: what a step costs on an idle core, which other jobs on a shared machine cannot inflate (the wall-clock medians are in the collapsed table). " +
        "Memory, two ways: the engine's own accounting of the native tensors the step holds at its fullest (weights, buffers, gradients, optimizer state, the batch), exact but blind to autograd's saved activations; and the process's peak RSS over what it held before the model was built (anonymous memory, so without libtorch's code pages), which includes the activations and the allocator's slack. " +
        "Ratios: training over full fine-tuning's, test over the plain model's (full fine-tuning's test step).",
    },
  ];
  for (const c of cost) blocks.push(...costBlocks(rec, c));
  return { id: "cost", title: "Computational cost (Fig. 5)", blocks };
}

function costBlocks(rec: StudyRecords, c: CostRecord): Block[] {
  const m = rec.models.find((x) => x.key === c.model);
  const st = c.settings;
  const how = `batch ${st.batch}, ${st.precision}, median of ${st.reps} timed steps after ${st.warmup} warm-up, best of ${st.rounds} round${st.rounds === 1 ? "" : "s"}, ${st.threads} engine thread${st.threads === 1 ? "" : "s"} per worker (latency = ${st.clock === "cpu" ? "CPU" : "wall-clock"} time per step)`;
  const fapft = c.fapft ? `FAPFT trains the units of \`${c.fapft.plan}\` (the study's plan for ${c.fapft.target}, first seed: top-k [${c.fapft.topk.join(", ")}], ${c.fapft.direction} angles: ${c.fapft.units.join(", ")}).` : "FAPFT's plan does not exist yet.";
  const blocks: Block[] = [{ kind: "p", text: `**${c.model}** (\`${m?.name ?? c.model}\`): ${how}. ${fapft}${c.machine ? ` Measured on: ${c.machine}.` : ""}` }];
  const full = c.rows.find((r) => r.method === "full");
  if (!c.rows.length || !full) {
    blocks.push({ kind: "p", text: c.fapft ? "Not measured yet (the study stopped before this step; rerunning it measures)." : "Not measured yet: the cost step waits for FAPFT's plan, which needs the full fine-tunes." });
    if (c.leftOut.length) blocks.push({ kind: "p", text: `Left out for ${c.model}:` }, { kind: "list", items: c.leftOut.map((l) => `${l.what}: ${l.reason}`) });
    return blocks;
  }
  const ratios = new Map(c.rows.map((r) => [r.method, costRatios(r, full)]));
  blocks.push({
    kind: "table",
    table: {
      head: ["method", "trainable", "train latency, ms/step (× full)", "train peak RSS, MiB (× full)", "train tensors, MiB (× full)", "test latency, ms/step (× plain)", "test peak RSS, MiB (× plain)", "test tensors, MiB (× plain)", "test model"],
      align: ["l", "r", "r", "r", "r", "r", "r", "r", "l"],
      rows: c.rows.map((r) => {
        const q = ratios.get(r.method)!;
        return [r.label, count(r.trainable), withRatio(ms(r.train.latencyMs), q.trainLatency), withRatio(mib(r.train.rssMiB), q.trainRss), withRatio(mib(r.train.tensorMiB), q.trainTensor), withRatio(ms(r.test.latencyMs), q.testLatency), withRatio(mib(r.test.rssMiB), q.testRss), withRatio(mib(r.test.tensorMiB), q.testTensor), r.testModel];
      }),
    },
  });
  const noise = costNoise(c)!;
  const plain = noise.from;
  const span = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}-${f(Math.max(...xs))}`;
  blocks.push({
    kind: "p",
    text:
      plain.length > 1
        ? `The test step is the plain model's, the same computation, for ${plain.map((r) => r.label).join(", ")}: its measurements (${span(plain.map((r) => r.test.latencyMs / full.test.latencyMs), (x) => `${x.toFixed(2)}×`)} in latency, ${span(plain.map((r) => r.test.rssMiB), mib)} MiB of RSS) show this measurement's noise. The claims in the summary count a difference only beyond it: ${(noise.latency * 100).toFixed(0)}% in latency and ${noise.rssMiB.toFixed(1)} MiB in RSS (never less than ${COST_FLOOR_WORDS}).`
        : `Only full fine-tuning runs the plain model's test step here, so the noise cannot be measured; the claims count differences beyond ${COST_FLOOR_WORDS}.`,
  });
  const color = (r: CostMethodRecord) => methodColor(r.method);
  const short = (r: CostMethodRecord) => COST_SHORT[r.method] ?? r.label;
  const sub = (x: number | null) => (x === null ? "-" : `${x.toFixed(2)}×`);
  // One figure per panel, as the paper's (a)-(d), each a chart of its own so they sit side by side.
  const figure = (letter: string, what: string, caption: string, svgOf: (id: string, title: string) => string): Block => {
    const id = safe(`fig5-${c.model}-${letter}-${what}`);
    return { kind: "figure", figure: { id, title: `Fig. 5${letter} analogue: ${c.model}, ${what}`, svg: svgOf(id, `${c.model}: (${letter}) ${what}`), caption } };
  };
  const latencyBars = (mode: "train" | "test") => c.rows.map((r) => ({ label: short(r), sub: sub(mode === "train" ? ratios.get(r.method)!.trainLatency : ratios.get(r.method)!.testLatency), values: [r[mode].latencyMs], color: color(r) }));
  const memoryBars = (mode: "train" | "test") => c.rows.map((r) => ({ label: short(r), sub: sub(mode === "train" ? ratios.get(r.method)!.trainRss : ratios.get(r.method)!.testRss), values: [r[mode].rssMiB, r[mode].tensorMiB], color: color(r) }));
  const memorySeries = ["peak RSS (over the start)", "engine-accounted tensors"];
  // Whole MiB once the bars reach 100, else a decimal (the quick preset's steps hold a few MiB).
  const memoryDigits = (mode: "train" | "test") => [Math.max(...c.rows.map((r) => r[mode].rssMiB)) >= 100 ? 0 : 1, 1];
  const clockWords = st.clock === "cpu" ? "CPU time" : "wall time";
  blocks.push(
    figure("a", "training latency", `${c.model}: ${clockWords} per training step (batch ${st.batch}), median of ${st.reps}; under each bar, the ratio to full fine-tuning (dashed).`, (id, title) =>
      valueBarChart({ id, title, yLabel: "ms per training step", bars: latencyBars("train"), reference: { value: full.train.latencyMs, label: "full fine-tuning" } }),
    ),
    figure("b", "training memory", `${c.model}: memory of a training step: the process's peak RSS over what it held before the model was built (solid; ratio to full fine-tuning under each bar) and the engine's accounting of the tensors it holds (light).`, (id, title) =>
      valueBarChart({ id, title, yLabel: "MiB", bars: memoryBars("train"), series: memorySeries, digits: memoryDigits("train") }),
    ),
    figure("c", "test latency", `${c.model}: ${clockWords} per test step (batch ${st.batch}) of the model as deployed; under each bar, the ratio to the plain model (dashed: full fine-tuning's test step).`, (id, title) =>
      valueBarChart({ id, title, yLabel: "ms per test step", bars: latencyBars("test"), reference: { value: full.test.latencyMs, label: "plain model" } }),
    ),
    figure("d", "test memory", `${c.model}: memory of a test step, as in (b); ratio to the plain model under each bar.`, (id, title) =>
      valueBarChart({ id, title, yLabel: "MiB", bars: memoryBars("test"), series: memorySeries, digits: memoryDigits("test") }),
    ),
  );
  if (c.leftOut.length) blocks.push({ kind: "p", text: `Left out for ${c.model}:` }, { kind: "list", items: c.leftOut.map((l) => `${l.what}: ${l.reason}`) });
  blocks.push({
    kind: "table",
    caption: `More numbers: ${c.model}, wall-clock medians and the processes' peak RSS (VmHWM, libtorch's code pages included)`,
    collapsed: true,
    table: {
      head: ["method", "parameters", "train wall ms/step", "train VmHWM MiB", "test wall ms/step", "test VmHWM MiB"],
      align: ["l", "r", "r", "r", "r", "r"],
      rows: c.rows.map((r) => [r.label, count(r.total), ms(r.train.wallMs), mib(r.train.peakRssMiB), ms(r.test.wallMs), mib(r.test.peakRssMiB)]),
    },
  });
  return blocks;
}

function unavailableSection(rec: StudyRecords): Section {
  const blocks: Block[] = rec.unavailable.length
    ? [{ kind: "p", text: "Not part of this report yet; no numbers are shown for them:" }, { kind: "list", items: rec.unavailable.map((u) => `**${u.section}**: not in this report (${u.reason}).`) }]
    : [{ kind: "p", text: "Every part of the study is available." }];
  return { id: "unavailable", title: "Not in this report", blocks };
}

function runsSection(rec: StudyRecords): Section {
  const table: Table = {
    head: ["run", "what", "purpose", "seed", "lr", "epochs", "trainable", "val. acc.", "test acc.", "train time", "note"],
    align: ["l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "l"],
    rows: rec.runs.map((r) => [
      `\`${r.id}\``,
      r.topk ? `${r.label} [${r.topk.join(", ")}] ${r.direction}` : r.label,
      r.purposes.join(", "),
      String(r.seed),
      String(r.config.lr ?? "-"),
      String(r.config.epochs ?? "-"),
      count(r.result?.trainable),
      pct(r.result?.valAcc),
      pct(r.result?.testAcc),
      r.result ? duration(r.result.trainSeconds) : "-",
      r.sameAs ? `same training as \`${r.sameAs}\`` : r.result ? "" : "not finished",
    ]),
  };
  const trained = rec.runs.filter((r) => r.result && !r.sameAs);
  const total = trained.reduce((a, r) => a + r.result!.trainSeconds, 0);
  return {
    id: "runs",
    title: "Every run",
    blocks: [
      { kind: "p", text: `${rec.runs.length} run slots; ${trained.length} trained runs took ${duration(total)} of training in all (the sum of their epochs, without evaluation). Each run's directory is \`runs/<run>/\` with its \`run.json\` (the full configuration and seed), \`metrics.jsonl\`, \`result.json\` and \`train.log\`.` },
      { kind: "table", table, collapsed: true },
    ],
  };
}

function configSection(rec: StudyRecords): Section {
  return { id: "config", title: "Configuration", blocks: [{ kind: "p", text: "The resolved configuration of this study (also in `config.json`):" }, { kind: "code", text: JSON.stringify(rec.config, null, 2), collapsed: true }] };
}
