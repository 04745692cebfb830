// CI: `pft study --preset quick` for real, through the built CLI: every step of the study on
// tiny data (pretraining, full fine-tuning, angles, FAPFT, the strategies, the baselines, Fig. 4,
// Fig. 6, soups, Table 4, Fig. 5's cost). The study is killed with SIGKILL once a few runs have finished and started
// again: the second invocation must skip those runs and finish the rest. Then the report must
// exist and hold every section, its figures, and a number for every run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StudyRecords } from "../../src/report/index.js";
import { tempDir } from "../helpers/reference.js";
import { findChromium, openPage } from "../report/browser.js";

const CLI = resolve(new URL("../../src/cli/main.js", import.meta.url).pathname);
const SECTIONS = ["summary", "design", "difficulty", "methods", "fig1", "fig3", "fig4", "fig6", "soups", "robust", "cost", "unavailable", "runs", "config"];

const finishedRuns = (dir: string): string[] => (existsSync(join(dir, "runs")) ? readdirSync(join(dir, "runs")).filter((r) => existsSync(join(dir, "runs", r, "result.json"))) : []);

test("pft study --preset quick: killed and rerun, it finishes without redoing finished runs, and the report holds every section", { timeout: 1_800_000 }, async () => {
  const { dir, cleanup } = tempDir("pft-study-quick-");
  const out = join(dir, "study");
  const t0 = Date.now();
  try {
    const args = [CLI, "study", "--preset", "quick", "--out", out, "--quiet"];
    const child = spawn(process.execPath, args, { stdio: "ignore" });
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    // Kill it once three runs have finished (the pretraining and two fine-tunes).
    while (finishedRuns(out).length < 3 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGKILL");
    await exited;
    const before = finishedRuns(out);
    assert.ok(before.length >= 3, `finished before the kill: ${before.join(", ")}`);
    assert.ok(!existsSync(join(out, "report.md")), "killed before the report");

    const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 1_500_000 });
    assert.equal(r.status, 0, r.stderr.split("\n").slice(-20).join("\n"));
    const seconds = (Date.now() - t0) / 1000;
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!) as { runs: number; finished: number; trained: number; skipped: number; reused: number };
    console.log(`quick study: ${summary.runs} runs, ${before.length} finished before the kill, ${summary.trained} trained after it, ${summary.reused} reused; ${seconds.toFixed(0)} s in all`);
    assert.equal(summary.finished, summary.runs);
    assert.equal(summary.skipped, before.length, "every run finished before the kill is skipped");
    for (const id of before) assert.match(r.stderr, new RegExp(`${id.replace(/\./g, "\\.")}: finished earlier \\(test [\\d.]+%\\): skipped`));

    // The records: every step produced its numbers.
    const rec = JSON.parse(readFileSync(join(out, "study.json"), "utf8")) as StudyRecords;
    assert.ok(rec.runs.every((x) => x.result !== null), "every run has a result");
    const kinds = new Set(rec.runs.map((x) => x.kind));
    for (const k of ["pretrain", "full", "strategy", "linear", "method", "fapft"]) assert.ok(kinds.has(k as never), k);
    assert.deepEqual(rec.difficulty.map((d) => d.target).sort(), ["digits", "fashion"]);
    assert.deepEqual(rec.difficulty.map((d) => d.difficulty).sort(), ["easy", "hard"]);
    assert.deepEqual([...new Set(rec.consistency.map((c) => c.axis))].sort(), ["dataset", "epochs", "lr"]);
    assert.ok(rec.consistency.every((c) => c.meanTau !== null));
    assert.equal(rec.angles.length, 6, "angles of the 6 full fine-tunes (2 targets x base, lr, epochs)");
    assert.equal(rec.soups.length, 4);
    assert.ok(rec.soups.every((s) => s.soup?.testAcc !== null && s.soup?.testAcc !== undefined));
    assert.ok(rec.runs.some((x) => x.sameAs !== null), "the ablation reuses the FAPFT run");

    // The report: both renderings, every section, every figure.
    const md = readFileSync(join(out, "report.md"), "utf8");
    const html = readFileSync(join(out, "report.html"), "utf8");
    for (const id of SECTIONS) {
      assert.ok(md.includes(`<a id="${id}"></a>`), `report.md section ${id}`);
      assert.ok(html.includes(`<section id="${id}">`), `report.html section ${id}`);
    }
    const figures = readdirSync(join(out, "figures"));
    for (const prefix of ["fig1-", "fig3-", "fig4-", "fig5-", "fig6-"]) assert.ok(figures.some((f) => f.startsWith(prefix)), `a ${prefix} figure`);
    for (const f of figures) {
      assert.ok(md.includes(`(figures/${f})`), `report.md links ${f}`);
      assert.ok(html.includes(`id="${f.replace(/\.svg$/, "")}"`), `report.html inlines ${f}`);
    }
    assert.ok(!md.includes("NaN") && !html.includes("NaN"), "no NaN in the report");
    assert.equal(rec.robustness.length, 1);
    assert.ok(rec.robustness[0].rows.length === 6 && rec.robustness[0].rows.every((x) => x.mce !== null && x.oodAcc !== null), "Table 4: 4 runs and 2 soups measured");
    // Fig. 5: every method measured in both modes, FAPFT with the study's plan.
    assert.equal(rec.cost.length, 1);
    const cost = rec.cost[0];
    assert.deepEqual(cost.rows.map((x) => x.method), ["full", "attn", "ffn", "fapft", "linear", "adapter", "vpt", "ssf", "lora"]);
    assert.ok(cost.rows.every((x) => x.train.latencyMs > 0 && x.test.latencyMs > 0 && x.train.tensorMiB > 0 && x.train.peakRssMiB > 0), "every measure is there");
    const fapftRun = rec.runs.find((x) => x.id === cost.fapft!.run)!;
    assert.deepEqual(cost.fapft!.units, fapftRun.units);
    assert.equal(cost.rows.find((x) => x.method === "fapft")!.trainable, fapftRun.result!.trainable, "the cost step trains what the FAPFT run trained");
    assert.equal(cost.rows.find((x) => x.method === "adapter")!.trainable, rec.runs.find((x) => x.id === "vit-digits-adapter-s0")!.result!.trainable, "with the study's method options");
    assert.ok(!rec.unavailable.some((u) => u.section.startsWith("Computational cost")));

    const chromium = findChromium();
    if (chromium) {
      const page = openPage(chromium, join(out, "report.html"), { dumpDom: true });
      assert.equal(page.status, 0);
      assert.deepEqual(page.console, [], page.console.join("\n"));
    }
  } finally {
    cleanup();
  }
});
