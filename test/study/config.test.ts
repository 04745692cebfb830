// The study configuration (presets, override files, validation) and the design it expands to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { catalogOf, createModel } from "../../src/models/index.js";
import { costMethods, designStudy, LIBRARY, loadStudyConfig, mergeConfig, PRESETS, validateStudyConfig, type ModelFacts, type StudyConfig } from "../../src/study/index.js";
import { tempDir } from "../helpers/reference.js";

function facts(cfg: StudyConfig): Map<string, ModelFacts> {
  return new Map(
    cfg.models.map((m) => {
      const model = createModel(m.name, { numClasses: 10 });
      try {
        return [m.key, { catalog: catalogOf(model), shapes: new Map(model.namedParameters().map((n) => [n.name, n.param.shape])) }];
      } finally {
        model.dispose();
      }
    }),
  );
}

test("the presets are valid configurations", () => {
  for (const name of Object.keys(PRESETS)) assert.doesNotThrow(() => validateStudyConfig(structuredClone(PRESETS[name])), name);
});

test("an override file changes what it names; models and targets merge by key", () => {
  const { dir, cleanup } = tempDir("pft-study-config-");
  try {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ seeds: [3, 4], finetune: { epochs: 7 }, models: [{ key: "vit", ablationTopk: [[1]] }], targets: ["fashion", "digits"] }));
    const cfg = loadStudyConfig("quick", file);
    assert.deepEqual(cfg.seeds, [3, 4]);
    assert.equal(cfg.finetune.epochs, 7);
    assert.equal(cfg.finetune.lr, PRESETS.quick.finetune.lr, "sibling keys kept");
    assert.deepEqual(cfg.models[0].ablationTopk, [[1]]);
    assert.equal(cfg.models[0].name, "vit_micro_patch4_28", "the rest of the vit entry comes from the preset");
    assert.deepEqual(cfg.targets.map((t) => t.key), ["fashion", "digits"]);
  } finally {
    cleanup();
  }
});

test("bad configurations are errors naming the path", () => {
  const bad = (over: unknown, pattern: RegExp) => assert.throws(() => validateStudyConfig(mergeConfig(structuredClone(PRESETS.quick), over)), pattern);
  bad({ finetune: { epochz: 3 } }, /config\.finetune: .*unknown training option 'epochz'/);
  bad({ seeds: [0, "1"] }, /config\.seeds\[1\] must be a whole number/);
  bad({ colour: "red" }, /unknown key config\.colour/);
  bad({ models: [{ key: "vit", fapftTopk: { easy: [2], hard: 2 } }] }, /config\.models\[0\]\.fapftTopk\.hard must be a list/);
  bad({ models: [{ key: "new", name: "swin_micro_patch2_window7_28" }] }, /config\.models\[0\]\.pretrain is missing/);
  bad({ targets: [{ key: "digits", testPerClass: 10 }, "fashion"] }, /digits: testPerClass and trainPool apply to mnist and fashion-mnist/);
  bad({ targets: ["digits"] }, /difficulty "auto" compares targets/);
  bad({ models: [{ key: "vit", methodOptions: { prompt: 3 } }] }, /unknown key config\.models\[0\]\.methodOptions\.prompt/);
  bad({ cost: { reps: 0 } }, /config\.cost\.reps must be a whole number >= 1, got 0/);
  bad({ cost: { batch: 2.5 } }, /config\.cost\.batch must be a whole number >= 1/);
  bad({ cost: { repz: 3 } }, /unknown key config\.cost\.repz/);
  assert.throws(() => mergeConfig(PRESETS.quick, { models: ["resnet"] }, LIBRARY), /models\[0\] names 'resnet', which is not defined \(known: vit, swin, convnext\)/);
  assert.throws(() => loadStudyConfig("huge"), /unknown study preset 'huge'/);
});

test("the quick design: every step once, ids unique, shared slots merged, and the order respects dependencies", () => {
  const cfg = loadStudyConfig("quick");
  const { slots, notApplicable } = designStudy(cfg, facts(cfg));
  const ids = slots.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids[0], "vit-pretrain");
  const per = (target: string) => ids.filter((i) => i.includes(`-${target}-`));
  // full, 2 variants, fapft, 8 manual strategies + linear, 4 baselines, 2x2 ablation: 21 per target.
  for (const t of ["digits", "fashion"]) assert.equal(per(t).length, 21, per(t).join(" "));
  for (const s of ["attn", "ffn", "attn-first-half", "attn-last-half", "ffn-first-half", "ffn-last-half", "blocks-first-half", "blocks-last-half", "linear", "adapter", "vpt", "ssf", "lora", "fapft"]) {
    assert.ok(ids.includes(`vit-digits-${s}-s0`), s);
  }
  assert.deepEqual(slots.find((s) => s.id === "vit-fashion-full-lr0.001-s0")!.purposes, ["consistency", "soup"]);
  assert.deepEqual(notApplicable.get("vit"), []);
  // FAPFT runs after the full fine-tunes whose angles it uses (and that decide the difficulty).
  const lastFull = Math.max(...slots.flatMap((s, i) => (s.kind === "full" && s.purposes.includes("main") ? [i] : [])));
  slots.forEach((s, i) => {
    if (s.fapft) assert.ok(i > lastFull && ids.indexOf(s.fapft.anglesFrom) < i, s.id);
  });
  const adapter = slots.find((s) => s.method?.method === "adapter")!;
  assert.deepEqual(adapter.method, { method: "adapter", reduction: 8 });
  assert.equal(slots.find((s) => s.id === "vit-digits-full-ep1-s0")!.config.epochs, 1);
  assert.equal(slots.find((s) => s.id === "vit-digits-attn-s0")!.config.lr, cfg.finetune.lr, "partial runs share the full recipe");
});

test("strategies and baselines that do not apply to an architecture are left out, with the reason", () => {
  // A new key starts from the template; "convnext" and "swin" are known entries.
  const cfg = validateStudyConfig(
    mergeConfig(
      structuredClone(PRESETS.quick),
      { models: ["vit", "swin", { key: "cnx", name: "convnext_micro_28", fapftTopk: { easy: [2, 2, 1, 1], hard: [0, 0, 1, 2] }, ablationTopk: [[0, 0, 1, 1]], soupTopk: [[0, 0, 1, 1], [0, 0, 1, 2]] }] },
      LIBRARY,
    ),
  );
  const { slots, notApplicable } = designStudy(cfg, facts(cfg));
  const left = notApplicable.get("cnx")!.map((n) => n.what);
  for (const w of ["ATTN-only (B)", "FFN-only (C)", "ATTN, first half (D)", "FFN, last half (G)", "VPT-Deep"]) assert.ok(left.includes(w), `${w} in ${left.join(", ")}`);
  assert.ok(!left.includes("SSF"), "SSF applies to ConvNeXt (its blocks' sites, folded on merge)");
  assert.ok(slots.some((s) => s.id === "cnx-digits-blocks-last-half-s0"));
  assert.ok(slots.some((s) => s.id === "cnx-digits-top0.0.1.1-largest-s0"));
  assert.ok(slots.some((s) => s.id === "cnx-fashion-top0.0.1.2-auto-s0"), "a soup top-k outside the ablation gets its own slot");
  assert.ok(!slots.some((s) => s.id.startsWith("cnx-") && s.strategy === "attn"));
  assert.deepEqual((notApplicable.get("swin") ?? []).map((n) => n.what), [], "every strategy and baseline applies to Swin (VPT-Deep inside its windows)");
  assert.ok(slots.some((s) => s.id === "swin-digits-attn-s0"));
});

test("the cost step's configuration: presets, overrides merge key by key, null leaves it out", () => {
  assert.deepEqual(PRESETS.quick.cost, { batch: 8, warmup: 1, reps: 2, rounds: 1, threads: 1 });
  assert.equal(PRESETS.default.cost!.batch, null, "the default measures at the fine-tuning batch size");
  const merged = validateStudyConfig(mergeConfig(structuredClone(PRESETS.quick), { cost: { reps: 5, batch: null } }));
  assert.deepEqual(merged.cost, { batch: null, warmup: 1, reps: 5, rounds: 1, threads: 1 });
  assert.equal(validateStudyConfig(mergeConfig(structuredClone(PRESETS.quick), { cost: null })).cost, null);
  const { dir, cleanup } = tempDir("pft-study-config-");
  try {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ cost: { rounds: 3 } }));
    assert.deepEqual(loadStudyConfig("default", file).cost, { ...PRESETS.default.cost!, rounds: 3 });
  } finally {
    cleanup();
  }
});

test("the cost step measures Fig. 5's methods that the study fine-tunes; the others are left out with the reason", () => {
  const cfg = validateStudyConfig(mergeConfig(structuredClone(PRESETS.quick), { models: ["vit", "swin", { key: "convnext", strategies: ["attn", "ffn", "blocks-last-half"] }] }, LIBRARY));
  const design = designStudy(cfg, facts(cfg));
  const of = (key: string) => costMethods(design, cfg.models.find((m) => m.key === key)!);
  assert.deepEqual(of("vit"), { methods: ["full", "attn", "ffn", "fapft", "linear", "adapter", "vpt", "ssf", "lora"], leftOut: [] });
  const swin = of("swin");
  assert.deepEqual(swin.methods, ["full", "attn", "ffn", "fapft", "linear", "adapter", "vpt", "ssf", "lora"]);
  assert.deepEqual(swin.leftOut, []);
  const cnx = of("convnext");
  assert.deepEqual(cnx.methods, ["full", "fapft", "adapter", "ssf"]);
  assert.deepEqual(cnx.leftOut.map((l) => l.what), ["ATTN-only", "FFN-only", "Linear probing", "VPT-Deep", "LoRA"]);
  assert.equal(cnx.leftOut.find((l) => l.what === "Linear probing")!.reason, "not among the model's strategies in the configuration");
  assert.match(cnx.leftOut.find((l) => l.what === "ATTN-only")!.reason, /convnext/i);
});
