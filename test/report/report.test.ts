// The report builder on fixture run records: the tables' numbers, the claims' verdicts, the SVGs
// (well-formed XML, parsed by Python's expat), the self-contained HTML (no external resources),
// and the page in headless Chromium (no console errors; a screenshot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { buildDocument, buildReport, checkClaims, methodRows, type Claim, type StudyRecords } from "../../src/report/index.js";
import { PYTHON, tempDir } from "../helpers/reference.js";
import { costRecord, fixtureRecords } from "./fixtures.js";
import { findChromium, openPage } from "./browser.js";

const SECTIONS = ["summary", "design", "difficulty", "methods", "fig1", "fig3", "fig4", "fig6", "soups", "robust", "cost", "unavailable", "runs", "config"];

function claim(claims: Claim[], scope: string, starts: string): Claim {
  const c = claims.find((x) => x.scope === scope && x.claim.startsWith(starts));
  assert.ok(c, `no claim '${starts}' for ${scope}: ${claims.map((x) => `${x.scope}: ${x.claim}`).join("\n")}`);
  return c;
}

/** The markdown table that follows a line containing `marker` (in section `section` when given), as rows of cells. */
function tableAfter(md: string, marker: string, section?: string): string[][] {
  const lines = md.split("\n");
  const from = section ? lines.findIndex((l) => l.includes(`<a id="${section}"></a>`)) : 0;
  const at = lines.findIndex((l, i) => i >= from && l.includes(marker));
  assert.ok(at >= 0, `marker ${marker}`);
  const start = lines.findIndex((l, i) => i > at && l.startsWith("|"));
  const rows: string[][] = [];
  for (let i = start; i < lines.length && lines[i].startsWith("|"); i++) rows.push(lines[i].slice(1, -1).split(" | ").map((c) => c.trim()));
  return rows;
}

test("method rows: mean and sample standard deviation over seeds, trainable parameters", () => {
  const rec = fixtureRecords();
  const rows = methodRows(rec, "vit", "digits");
  const full = rows.get("full")!;
  assert.equal(full.acc!.n, 3);
  assert.ok(Math.abs(full.acc!.mean - 0.72) < 1e-12);
  assert.ok(Math.abs(full.acc!.std - 0.02) < 1e-12);
  assert.equal(rows.get("fapft")!.trainable, 40_000);
  assert.deepEqual(rows.get("adapter")!.seeds, [0, 1, 2]);
  assert.ok(!rows.has("vpt"), "the left-out method has no row");
});

test("the Table 1/2 analogue: mean ± std per target, params with share, the best per column in bold, mean over targets", () => {
  const { markdown } = buildReport(fixtureRecords());
  const t = tableAfter(markdown, "**vit** (`vit_test`");
  assert.deepEqual(t[0], ["method", "digits acc.", "digits params", "fashion acc.", "fashion params", "mean acc."]);
  const row = (label: string) => t.find((r) => r[0] === label)!;
  assert.deepEqual(row("Full fine-tuning"), ["Full fine-tuning", "72.00 ± 2.00", "100,000 (100.0%)", "60.00 ± 0.00", "100,000 (100.0%)", "66.00"]);
  assert.deepEqual(row("FAPFT"), ["FAPFT", "**76.00 ± 1.00**", "40,000 (40.0%)", "59.00 ± 1.00", "40,000 (40.0%)", "67.50"]);
  assert.equal(row("FFN-only (C)")[3], "**61.00 ± 0.00**");
  assert.equal(row("Linear probing")[2], "100 (0.10%)");
  assert.deepEqual(t.map((r) => r[0]).slice(2), ["Full fine-tuning", "Linear probing", "Adapter", "SSF", "LoRA", "ATTN-only (B)", "FFN-only (C)", "FAPFT"]);
});

test("the Table 3 analogue: each run, then the soups with their summed parameters", () => {
  const { markdown } = buildReport(fixtureRecords());
  const t = tableAfter(markdown, "**vit on digits**", "soups");
  assert.deepEqual(t[0], ["Exp.", "FFT config", "FFT acc.", "FFT params", "FAPFT config", "FAPFT acc.", "FAPFT params"]);
  assert.deepEqual(t[2], ["run1", "lr 0.002, seed 0", "70.00", "100,000", "top-k [1]", "71.00", "20,000"]);
  assert.deepEqual(t[4], ["**Soup**", "2 runs", "**66.00**", "200,000", "2 runs", "**74.00**", "60,000"]);
});

test("the claims: verdicts and numbers follow the records", () => {
  const claims = checkClaims(fixtureRecords());
  const c1 = claim(claims, "vit on digits", "FAPFT is more accurate than full");
  assert.equal(c1.verdict, "yes");
  assert.match(c1.detail, /^\+4\.00 points: FAPFT 76\.00 ± 1\.00 vs full 72\.00 ± 2\.00, 3 seeds$/);
  const c2 = claim(claims, "vit on fashion", "FAPFT is more accurate than full");
  assert.equal(c2.verdict, "no");
  assert.match(c2.detail, /^\u22121\.00 points/);
  assert.match(c2.detail, /within the seed-to-seed spread/);
  assert.equal(claim(claims, "vit on digits", "FAPFT trains fewer").verdict, "yes");
  assert.match(claim(claims, "vit on digits", "FAPFT trains fewer").detail, /40,000 of 100,000 \(40\.0%\), top-k \[2\] with the smallest angles \(digits is easy\)/);
  assert.equal(claim(claims, "vit on digits", "FAPFT beats every manual").verdict, "yes");
  const manual = claim(claims, "vit on fashion", "FAPFT beats every manual");
  assert.equal(manual.verdict, "no");
  assert.match(manual.detail, /^best manual strategy FFN-only \(C\); \u22122\.00 points/);
  assert.equal(claim(claims, "vit on digits", "ATTN-only or FFN-only").verdict, "yes");
  const o3d = claim(claims, "vit on digits", "Fine-tuning the last half");
  assert.equal(o3d.verdict, "no");
  assert.equal(o3d.detail, "2 of 3 pairs: E − D +5.00, G − F \u22121.00, I − H +4.00");
  assert.equal(claim(claims, "vit on fashion", "Fine-tuning the last half").verdict, "yes");
  assert.equal(claim(claims, "vit on digits", "The choice of layers matters").verdict, "yes");
  const f6d = claim(claims, "vit on digits", "On an easy target, the smallest angles");
  assert.equal(f6d.verdict, "yes");
  assert.match(f6d.detail, /smallest wins at 2 of 3 top-k/);
  assert.equal(claim(claims, "vit on fashion", "On a hard target, the largest angles").verdict, "no");
  assert.equal(claim(claims, "vit on digits", "The FAPFT soup is more accurate").verdict, "yes");
  assert.equal(claim(claims, "vit on fashion", "The FAPFT soup is more accurate").verdict, "no");
  assert.equal(claim(claims, "vit on digits", "The FAPFT soup trains fewer").verdict, "yes");
  assert.equal(claim(claims, "vit on digits", "The full-fine-tuning soup beats its best").verdict, "no");
  // The epoch-count rankings are missing (that run did not finish): Fig. 4's claim cannot be checked.
  const f4 = claim(claims, "vit", "Angle rankings agree");
  assert.equal(f4.verdict, "n/a");
});

test("the Table 4 analogue and its claims", () => {
  const rec = fixtureRecords();
  const { markdown } = buildReport(rec);
  const t = tableAfter(markdown, "**vit, fine-tuned on digits**");
  assert.deepEqual(t[0], ["method", "digits acc.", "mnist/test acc. (OOD)", "corrupted acc.", "mCE", "relative mCE", "params"]);
  assert.deepEqual(t[2], ["Full fine-tuning", "70.00", "60.00", "50.00", "80.00", "110.00", "100,000"]);
  assert.deepEqual(t[7], ["Soup-FAPFT", "74.00", "68.00", "58.00", "72.00", "-", "60,000"]);
  const claims = checkClaims(rec);
  assert.equal(claim(claims, "vit on digits", "FAPFT is more robust").verdict, "yes");
  const partial = claim(claims, "vit on digits", "Partial fine-tuning (ATTN-only");
  assert.equal(partial.verdict, "no");
  assert.match(partial.detail, /^2 of 3 have a lower mCE/);
  assert.equal(claim(claims, "vit on digits", "FAPFT is more accurate out of distribution").verdict, "yes");
  assert.equal(claim(claims, "vit on digits", "The FAPFT soup is more robust").verdict, "yes");
});

test("the Fig. 5 analogue: the cost table with ratios to full fine-tuning (train) and the plain model (test), and four panels", () => {
  const { markdown, figures } = buildReport(fixtureRecords());
  const t = tableAfter(markdown, "**vit** (`vit_test`): batch 32", "cost");
  assert.deepEqual(t[0], ["method", "trainable", "train latency, ms/step (× full)", "train peak RSS, MiB (× full)", "train tensors, MiB (× full)", "test latency, ms/step (× plain)", "test peak RSS, MiB (× plain)", "test tensors, MiB (× plain)", "test model"]);
  const row = (label: string) => t.find((r) => r[0] === label)!;
  assert.deepEqual(row("Full fine-tuning"), ["Full fine-tuning", "100,000", "80.0 (1.00×)", "77.0 (1.00×)", "10.5 (1.00×)", "30.0 (1.00×)", "20.0 (1.00×)", "2.7 (1.00×)", "plain"]);
  assert.deepEqual(row("FAPFT"), ["FAPFT", "40,000", "60.0 (0.75×)", "80.0 (1.04×)", "5.3 (0.50×)", "30.6 (1.02×)", "20.5 (1.02×)", "2.7 (1.00×)", "plain"]);
  assert.deepEqual(row("VPT-Deep"), ["VPT-Deep", "30,000", "123.0 (1.54×)", "113 (1.47×)", "3.1 (0.30×)", "63.0 (2.10×)", "47.0 (2.35×)", "2.8 (1.04×)", "method"]);
  assert.deepEqual(t.slice(2).map((r) => r[0]), ["Full fine-tuning", "ATTN-only", "FFN-only", "FAPFT", "Linear probing", "Adapter", "VPT-Deep", "SSF", "LoRA"]);
  assert.match(markdown, /best of 2 rounds, 1 engine thread per worker \(latency = CPU time per step\)\. FAPFT trains the units of `plans\/vit-digits-fapft-s0\.json`/);
  assert.match(markdown, /The test step is the plain model's, the same computation, for Full fine-tuning, ATTN-only, FFN-only, FAPFT, Linear probing, SSF, LoRA: its measurements \(0\.97×-1\.04× in latency, 18\.0-22\.5 MiB of RSS\) show this measurement's noise\. The claims in the summary count a difference only beyond it: 5% in latency and 2\.5 MiB in RSS/);
  // The four panels: one bar per method, the ratio under each, and the dashed reference on the latency panels.
  const panels = figures.filter((f) => f.id.startsWith("fig5-"));
  assert.deepEqual(panels.map((f) => f.id), ["fig5-vit-a-training-latency", "fig5-vit-b-training-memory", "fig5-vit-c-test-latency", "fig5-vit-d-test-memory"]);
  for (const f of panels) {
    for (const label of ["Full", "ATTN", "FFN", "FAPFT", "Linear", "Adapter", "VPT", "SSF", "LoRA"]) assert.ok(f.svg.includes(`>${label}</text>`), `${f.id}: ${label}`);
  }
  assert.ok(panels[0].svg.includes(">0.75×</text>") && panels[0].svg.includes(">full fine-tuning</text>") && panels[0].svg.includes("stroke-dasharray"));
  assert.ok(panels[2].svg.includes(">2.10×</text>") && panels[2].svg.includes(">plain model</text>"));
  assert.ok(panels[1].svg.includes(">engine-accounted tensors</text>") && panels[1].svg.includes(">113</text>") && panels[1].svg.includes(">3.1</text>"));
});

test("the cost claims: computed from the records, one failing in the fixture, n/a where a method was not measured", () => {
  const claims = checkClaims(fixtureRecords());
  const faster = claim(claims, "vit", "FAPFT trains faster");
  assert.equal(faster.verdict, "yes");
  assert.match(faster.detail, /^FAPFT 0\.75× \(60\.0 vs 80\.0 ms per step\); differences within 5% are this measurement's noise/);
  const smaller = claim(claims, "vit", "FAPFT trains with less memory");
  assert.equal(smaller.verdict, "no", "FAPFT's RSS is above full fine-tuning's in the fixture");
  assert.match(smaller.detail, /^FAPFT: peak RSS 80\.0 vs 77\.0 MiB \(1\.04×\), tensors 5\.3 vs 10\.5 MiB \(0\.50×\), not measurably less; RSS differences within 2\.5 MiB/);
  assert.equal(claim(claims, "vit", "The partial strategies (ATTN-only, FFN-only) train faster").verdict, "yes");
  assert.equal(claim(claims, "vit", "The partial strategies (ATTN-only, FFN-only) train with less memory").verdict, "yes");
  const plain = claim(claims, "vit", "FAPFT and the partial strategies have the plain model's");
  assert.equal(plain.verdict, "yes");
  assert.match(plain.detail, /^FAPFT plain model, tensors 2\.70 MiB, latency 1\.02×, RSS 20\.5 MiB; ATTN-only plain model/);
  const adapter = claim(claims, "vit", "Adapter adds test latency");
  assert.equal(adapter.verdict, "no");
  assert.match(adapter.detail, /^1\.04× the plain model's test latency \(31\.2 vs 30\.0 ms per step, method model\), not measurably more; differences within 5%/);
  assert.equal(claim(claims, "vit", "VPT-Deep adds test latency").verdict, "yes");

  // A model without VPT-Deep and with a partial strategy whose deployed model is not the plain one.
  const rec = fixtureRecords();
  const c = rec.cost[0];
  c.rows = c.rows.filter((r) => r.method !== "vpt");
  c.leftOut = [{ what: "VPT-Deep", reason: "vpt: VPT-Deep is implemented for ViT only" }];
  const attn = c.rows.find((r) => r.method === "attn")!;
  attn.test.tensorMiB = 2.9;
  const changed = checkClaims(rec);
  const vpt = claim(changed, "vit", "VPT-Deep adds test latency");
  assert.equal(vpt.verdict, "n/a");
  assert.equal(vpt.detail, "VPT-Deep was not measured (vpt: VPT-Deep is implemented for ViT only)");
  assert.equal(claim(changed, "vit", "FAPFT and the partial strategies have the plain model's").verdict, "no");

  // Not measured yet: every cost claim is n/a, and the section says why.
  const waiting = fixtureRecords();
  waiting.cost = [{ ...costRecord(), rows: [], machine: null }];
  const cost = checkClaims(waiting).filter((x) => x.source.startsWith("Fig. 5"));
  assert.equal(cost.length, 7);
  assert.ok(cost.every((x) => x.verdict === "n/a" && x.detail === "not measured yet"));
  const { markdown, figures } = buildReport(waiting);
  assert.match(markdown, /Not measured yet \(the study stopped before this step; rerunning it measures\)\./);
  assert.ok(!figures.some((f) => f.id.startsWith("fig5-")));
});

test("Fig. 4's claim when every ranking is there: consistent across lr and epochs, less across datasets", () => {
  const rec = fixtureRecords();
  const lr = rec.consistency.find((c) => c.axis === "lr")!;
  rec.consistency.push({ ...structuredClone(lr), axis: "epochs", meanTau: 0.9 });
  const f4 = claim(checkClaims(rec), "vit", "Angle rankings agree");
  assert.equal(f4.verdict, "yes");
  assert.equal(f4.detail, "mean Kendall tau: learning rates 0.80, epochs 0.90, datasets 0.20");
});

test("every section is there in both renderings, with its anchor; unfinished runs and unavailable parts are said so", () => {
  const { markdown, html, figures } = buildReport(fixtureRecords());
  for (const id of SECTIONS) {
    assert.ok(markdown.includes(`<a id="${id}"></a>`), `markdown section ${id}`);
    assert.ok(html.includes(`<section id="${id}">`), `html section ${id}`);
  }
  assert.match(markdown, /\*\*Incomplete:\*\* 2 runs have not finished/);
  assert.match(markdown, /\*\*A section of the fixture\*\*: not in this report \(the fixture leaves it out\)/);
  assert.ok(!markdown.includes("**Computational cost (Fig. 5)**: not in this report"), "the cost is in this report");
  assert.match(markdown, /vit leaves out what does not apply to vit:\n\n- VPT-Deep: vpt: VPT-Deep is implemented for ViT only/);
  // Fig. 1 and Fig. 3 per target, Fig. 4 per consistency record, Fig. 5's four panels per model, Fig. 6 per target.
  assert.deepEqual(figures.map((f) => f.id.split("-")[0]).sort(), ["fig1", "fig1", "fig3", "fig3", "fig4", "fig4", "fig5", "fig5", "fig5", "fig5", "fig6", "fig6"]);
  for (const f of figures) {
    assert.ok(markdown.includes(`](figures/${f.id}.svg)`), `markdown links ${f.id}`);
    assert.ok(html.includes(`<svg xmlns="http://www.w3.org/2000/svg" id="${f.id}"`), `html inlines ${f.id}`);
  }
});

test("the report is a pure function of the records", () => {
  const a = buildReport(fixtureRecords());
  const b = buildReport(JSON.parse(JSON.stringify(fixtureRecords())) as StudyRecords);
  assert.equal(a.markdown, b.markdown);
  assert.equal(a.html, b.html);
});

test("every SVG and the HTML's SVGs are well-formed XML (parsed by expat); text is escaped", () => {
  const { dir, cleanup } = tempDir("pft-report-");
  try {
    const { figures, html } = buildReport(fixtureRecords());
    const files = figures.map((f) => {
      const file = join(dir, `${f.id}.svg`);
      writeFileSync(file, f.svg);
      return file;
    });
    // The page's SVGs, cut out as the browser sees them.
    const inline = [...html.matchAll(/<svg [\s\S]*?<\/svg>/g)].map((m) => m[0]);
    assert.equal(inline.length, figures.length);
    inline.forEach((s, i) => {
      const file = join(dir, `inline-${i}.svg`);
      writeFileSync(file, s);
      files.push(file);
    });
    const script = "import sys, xml.dom.minidom as m\nfor f in sys.argv[1:]:\n    d = m.parse(f)\n    assert d.documentElement.tagName == 'svg', f\n    assert d.documentElement.getAttribute('xmlns') == 'http://www.w3.org/2000/svg', f\nprint(len(sys.argv) - 1)";
    const r = spawnSync(PYTHON, ["-c", script, ...files], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(files.length));
    // A label with markup characters arrives escaped.
    assert.ok(html.includes("sklearn digits &lt;8x8&gt;"));
    assert.ok(html.includes("&lt;not a real config &amp; it has \\&quot;quotes\\&quot;&gt;"));
  } finally {
    cleanup();
  }
});

test("the HTML is self-contained: no scripts, no external references", () => {
  const { html } = buildReport(fixtureRecords());
  assert.ok(!/<script/i.test(html), "no scripts");
  assert.ok(!/<link/i.test(html), "no linked resources");
  assert.ok(!/\ssrc=/i.test(html), "no src attributes");
  assert.ok(!/url\(/i.test(html), "no CSS urls");
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
  assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"]);
  for (const m of html.matchAll(/href="([^"]*)"/g)) assert.ok(m[1].startsWith("#"), `href ${m[1]}`);
  const doc = buildDocument(fixtureRecords());
  for (const s of doc.sections) assert.ok(html.includes(`href="#${s.id}"`), `the contents link ${s.id}`);
});

const chromium = findChromium();

test("the console detector catches errors (so a clean page means something)", { skip: chromium ? false : "chromium not installed (apt-get install chromium)" }, () => {
  const { dir, cleanup } = tempDir("pft-report-");
  try {
    const bad = join(dir, "bad.html");
    writeFileSync(bad, '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body><script>console.error("boom"); missing();</script></body></html>');
    const r = openPage(chromium!, bad, { dumpDom: true });
    assert.ok(r.console.some((l) => l.includes("boom")), r.stderr.slice(-2000));
    assert.ok(r.console.some((l) => /Uncaught ReferenceError/.test(l)));
  } finally {
    cleanup();
  }
});

test("the HTML opens in headless Chromium with no console errors, every section and figure in the DOM, and renders a screenshot", { skip: chromium ? false : "chromium not installed (apt-get install chromium)", timeout: 180_000 }, () => {
  const { dir, cleanup } = tempDir("pft-report-");
  try {
    const { html, figures } = buildReport(fixtureRecords());
    const page = join(dir, "report.html");
    writeFileSync(page, html);
    const r = openPage(chromium!, page, { dumpDom: true });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.deepEqual(r.console, [], `console output:\n${r.console.join("\n")}`);
    for (const id of SECTIONS) assert.ok(r.dom.includes(`<section id="${id}">`), `rendered section ${id}`);
    for (const f of figures) assert.ok(r.dom.includes(`id="${f.id}"`), `rendered figure ${f.id}`);
    const shot = join(dir, "report.png");
    const s = openPage(chromium!, page, { screenshot: shot, windowSize: "1280,3000" });
    assert.equal(s.status, 0, s.stderr.slice(-2000));
    assert.deepEqual(s.console, []);
    const png = readFileSync(shot);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
    assert.ok(statSync(shot).size > 50_000, `a screenshot with content (${statSync(shot).size} bytes)`);
    assert.equal(png.readUInt32BE(16), 1280, "width");
  } finally {
    cleanup();
  }
});
