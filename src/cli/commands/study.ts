// pft study: the paper's experiments end to end, resumable, with a markdown and HTML report.
import { PftError } from "../../errors.js";
import { loadStudyConfig, runStudy } from "../../study/index.js";
import type { Command } from "../command.js";

export const study: Command = {
  summary: "run the paper's experiments end to end (resumable) and write DIR/report.md and DIR/report.html",
  usage: "pft study [--preset default|quick] [--config FILE] --out DIR [--report-only] [--quiet]\n       pft study [--preset ...] [--config FILE] --print-config",
  flags: {
    preset: { type: "string", default: "default", help: "default (about 21 min on 2 idle cores) or quick (CI: 1-2 min); docs/study.md" },
    config: { type: "string", help: "JSON file of overrides on top of the preset (see docs/study.md)" },
    out: { type: "string", help: "study directory: runs, plans, soups, study.json, report.md, report.html" },
    "report-only": { type: "boolean", help: "rebuild the report from what DIR holds, training nothing" },
    "print-config": { type: "boolean", help: "print the resolved configuration as JSON and exit" },
    quiet: { type: "boolean", help: "no trainer progress (the per-run lines remain)" },
  },
  run(_p, f) {
    const cfg = loadStudyConfig(f.preset as string, f.config as string | undefined);
    if (f["print-config"]) {
      console.log(JSON.stringify(cfg, null, 2));
      return;
    }
    const out = f.out;
    if (typeof out !== "string" || !out) throw new PftError("argument", "--out is required");
    const r = runStudy({ config: cfg, configFile: (f.config as string | undefined) ?? null, out, reportOnly: f["report-only"] === true, progress: f.quiet ? null : undefined });
    console.log(JSON.stringify({ out: r.out, runs: r.records.runs.length, finished: r.records.runs.filter((x) => x.result).length, trained: r.trained.length, skipped: r.skipped.length, reused: r.reused.length, report: [`${r.out}/report.md`, `${r.out}/report.html`] }));
  },
};
