// Resumability of the study runner, with a stub backend that "trains" instantly (stub.ts): a study
// killed in the middle of a run and rerun finishes without redoing finished runs, resumes the
// interrupted one, and ends with the same records and report as an uninterrupted study; a rerun
// of a finished study trains nothing; changed inputs redo exactly the runs they affect.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadStudyConfig, runStudy, validateStudyConfig, type StudyConfig, type StudyOutcome } from "../../src/study/index.js";
import { tempDir } from "../helpers/reference.js";
import { KilledError, readText, stubBackend } from "./stub.js";

/** The quick preset, as CI runs it, minus the trainer's progress. */
const CONFIG: StudyConfig = loadStudyConfig("quick");
const silent = { log: () => {}, progress: null } as const;

function study(out: string, backend: ReturnType<typeof stubBackend>, config: StudyConfig = CONFIG): StudyOutcome {
  return runStudy({ config, out, backend, ...silent });
}

const OUTPUTS = ["study.json", "report.md", "report.html", "config.json"];

test("killed mid-run and rerun: finished runs are skipped, the interrupted one resumes, and the report equals an uninterrupted study's", { timeout: 300_000 }, () => {
  const a = tempDir("pft-study-a-");
  const b = tempDir("pft-study-b-");
  try {
    const straight = stubBackend();
    const full = study(a.dir, straight);
    const slots = full.records.runs.map((r) => r.id);
    assert.equal(full.records.runs.filter((r) => r.result).length, slots.length, "every run finished");
    assert.equal(full.trained.length + full.reused.length, slots.length);
    assert.equal(straight.calls.length, full.trained.length, "one backend call per trained run");
    assert.deepEqual(full.skipped, []);
    assert.deepEqual(straight.costCalls, ["vit_micro_patch4_28"], "one cost measurement per model");
    assert.deepEqual(full.records.cost[0].rows.map((r) => r.method), ["full", "attn", "ffn", "fapft", "linear", "adapter", "vpt", "ssf", "lora"]);
    assert.ok(existsSync(join(a.dir, "cost", "vit.json")));

    // Dies during its 12th run: 11 finished, the 12th left a partial directory.
    const dying = stubBackend({ killAtCall: 12 });
    assert.throws(() => study(b.dir, dying), KilledError);
    const killedId = dying.calls[11].id;
    const finishedFirst = dying.calls.slice(0, 11).map((c) => c.id);
    assert.ok(!existsSync(join(b.dir, "runs", killedId, "result.json")));
    assert.ok(!existsSync(join(b.dir, "report.md")), "no report from the killed study");

    const rerun = stubBackend();
    const second = study(b.dir, rerun);
    assert.deepEqual([...second.skipped].sort(), [...finishedFirst].sort(), "exactly the finished runs are skipped");
    assert.equal(rerun.calls[0].id, killedId, "the interrupted run comes first");
    assert.equal(rerun.calls[0].resumed, true, "and resumes from what it left");
    for (const id of finishedFirst) assert.ok(!rerun.calls.some((c) => c.id === id), `${id} was not redone`);
    assert.equal(rerun.calls.length + finishedFirst.length, straight.calls.length, "nothing trained twice overall");

    for (const f of OUTPUTS) assert.equal(readText(join(b.dir, f)), readText(join(a.dir, f)), `${f} equals the uninterrupted study's`);

    // A finished study trains nothing on a rerun and writes the same report again.
    const idle = stubBackend();
    const third = study(b.dir, idle);
    assert.equal(idle.calls.length, 0);
    assert.deepEqual(idle.costCalls, [], "the cost measurement is cached");
    assert.equal(third.skipped.length, full.trained.length);
    for (const f of OUTPUTS) assert.equal(readText(join(b.dir, f)), readText(join(a.dir, f)), `${f} unchanged by the rerun`);
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("a slot that trains what an earlier one trained reuses its run", { timeout: 120_000 }, () => {
  const { dir, cleanup } = tempDir("pft-study-");
  try {
    const r = study(dir, stubBackend());
    // digits is easy (the stub's full fine-tunes do better there): FAPFT is top-2 smallest, which the ablation also has.
    const d = r.records.difficulty.find((x) => x.target === "digits")!;
    assert.equal(d.difficulty, "easy");
    assert.equal(d.how, "measured");
    const alias = r.records.runs.find((x) => x.id === "vit-digits-top2-smallest-s0")!;
    assert.equal(alias.sameAs, "vit-digits-fapft-s0");
    assert.equal(alias.dir, "vit-digits-fapft-s0");
    assert.ok(r.reused.includes("vit-digits-top2-smallest-s0"));
    assert.ok(!existsSync(join(dir, "runs", "vit-digits-top2-smallest-s0")), "no directory of its own");
    const fapft = r.records.runs.find((x) => x.id === "vit-digits-fapft-s0")!;
    assert.deepEqual(fapft.topk, [2]);
    assert.equal(fapft.direction, "smallest");
    assert.equal(fapft.units!.length, 4, "2 of 6 in each of the two groups");
    // The lr variant serves Fig. 4 and the soup: one slot, two purposes.
    assert.deepEqual(r.records.runs.find((x) => x.id === "vit-digits-full-lr0.001-s0")!.purposes, ["consistency", "soup"]);
    // Fig. 4 compares real angle rankings of the stub's weights (deeper units move more).
    const lr = r.records.consistency.find((c) => c.axis === "lr" && c.columns[0].target === "digits")!;
    assert.equal(lr.groups.length, 2);
    assert.ok(lr.meanTau! > 0.5, `consistent rankings, tau ${lr.meanTau}`);
    assert.equal(r.records.soups.length, 4);
    assert.ok(r.records.soups.every((s) => s.soup && s.soup.testAcc !== null));
  } finally {
    cleanup();
  }
});

test("changed inputs redo only the runs they affect (the others are skipped)", { timeout: 300_000 }, () => {
  const { dir, cleanup } = tempDir("pft-study-");
  try {
    study(dir, stubBackend());
    const changed = validateStudyConfig({ ...structuredClone(CONFIG), targets: CONFIG.targets.map((t) => (t.key === "fashion" ? { ...t, trainPerClass: 12 } : t)) });
    const again = stubBackend();
    const r = study(dir, again, changed);
    assert.ok(again.calls.length > 0);
    for (const c of again.calls) assert.match(c.id, /-fashion-/, `${c.id} depends on the fashion target`);
    assert.ok(r.skipped.includes("vit-pretrain"));
    assert.ok(r.skipped.includes("vit-digits-full-s0"));
    assert.ok(r.skipped.includes("vit-digits-fapft-s0"));
    assert.ok(r.trained.includes("vit-fashion-full-s0"));
    assert.equal(JSON.parse(readText(join(dir, "runs", "vit-fashion-full-s0", "run.json"))).trainPerClass, 12);
  } finally {
    cleanup();
  }
});

test("the cost step: cached with its inputs, redone when they change, with FAPFT's real plan; cost: null leaves it out", { timeout: 300_000 }, () => {
  const { dir, cleanup } = tempDir("pft-study-");
  try {
    const first = study(dir, stubBackend());
    const c = first.records.cost[0];
    const plan = JSON.parse(readText(join(dir, "plans", "vit-digits-fapft-s0.json"))) as { units: string[] };
    assert.deepEqual(c.fapft, { run: "vit-digits-fapft-s0", plan: "plans/vit-digits-fapft-s0.json", target: "digits", topk: [2], direction: "smallest", units: plan.units });
    assert.deepEqual(c.settings, { batch: 8, warmup: 1, reps: 2, rounds: 1, threads: 1, precision: "bf16", clock: "cpu" });
    const saved = JSON.parse(readText(join(dir, "cost", "vit.json"))) as { inputs: Record<string, unknown> };
    assert.deepEqual(saved.inputs, { model: "vit_micro_patch4_28", numClasses: 10, methods: c.rows.map((r) => r.method), methodOptions: CONFIG.models[0].methodOptions, fapftUnits: plan.units, precision: "bf16", batch: 8, warmup: 1, reps: 2, rounds: 1, threads: 1 });
    assert.ok(!readText(join(dir, "study.json")).includes(dir), "no absolute paths in the records");
    assert.match(readText(join(dir, "report.md")), /<a id="cost"><\/a>/);

    // Other measurement settings redo the measurement, and nothing else.
    const again = stubBackend();
    const r = study(dir, again, validateStudyConfig({ ...structuredClone(CONFIG), cost: { ...CONFIG.cost!, reps: 3 } }));
    assert.equal(again.calls.length, 0, "no run retrained");
    assert.deepEqual(again.costCalls, ["vit_micro_patch4_28"]);
    assert.equal(r.records.cost[0].settings.reps, 3);

    const off = stubBackend();
    const none = study(dir, off, validateStudyConfig({ ...structuredClone(CONFIG), cost: null }));
    assert.deepEqual(off.costCalls, []);
    assert.deepEqual(none.records.cost, []);
    assert.deepEqual(none.records.unavailable.map((u) => u.section), ["Computational cost (Fig. 5)"]);
  } finally {
    cleanup();
  }
});

test("--report-only builds the report from a partial study without training", { timeout: 120_000 }, () => {
  const { dir, cleanup } = tempDir("pft-study-");
  try {
    assert.throws(() => study(dir, stubBackend({ killAtCall: 5 })), KilledError);
    const stub = stubBackend();
    const r = runStudy({ config: CONFIG, out: dir, backend: stub, reportOnly: true, ...silent });
    assert.equal(stub.calls.length, 0);
    assert.deepEqual(stub.costCalls, [], "report-only measures nothing");
    assert.equal(r.records.cost[0].rows.length, 0);
    assert.equal(r.records.runs.filter((x) => x.result).length, 4);
    assert.match(readText(join(dir, "report.md")), /\*\*Incomplete:\*\* \d+ runs have not finished/);
  } finally {
    cleanup();
  }
});
