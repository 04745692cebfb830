// Plans: JSON with the exact trainable names, saved atomically, validated on load, and applied to
// a PyTorch module by the emitted snippet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { PftError } from "../../src/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { planForStrategy, planFapft, savePlan, loadPlan, torchSnippet, computeAngles, type Plan } from "../../src/partial/index.js";
import { tempDir, runPython } from "../helpers/reference.js";
import { paperCatalog, readFixture, shapesWithClasses } from "./shapes.js";
import { writePair } from "./synthetic.js";

const VIT = paperCatalog("vit_base_patch16_224", 100);
const configError = (re: RegExp) => (e: unknown) => e instanceof PftError && e.code === "config" && re.test(e.message);

test("a strategy plan lists exactly the trainable names and counts, and round-trips through save/load", () => {
  const { dir, cleanup } = tempDir();
  try {
    const plan = planForStrategy(VIT, "attn", { model: "vit_base_patch16_224" });
    assert.equal(plan.letter, "B");
    assert.equal(plan.units.length, 12);
    assert.equal(plan.trainable.length, 12 * 6 + 2);
    assert.deepEqual(plan.trainable.slice(0, 3), ["blocks.0.attn.proj.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.qkv.bias"]);
    assert.deepEqual(plan.counts, { trainable: 28_443_748, total: 85_875_556 });
    const file = join(dir, "plan.json");
    savePlan(file, plan);
    assert.deepEqual(readdirSync(dir), ["plan.json"], "no temporary file left behind");
    assert.deepEqual(loadPlan(file), plan);
    assert.deepEqual(loadPlan(file, VIT), plan);
  } finally {
    cleanup();
  }
});

test("a FAPFT plan records top-k, direction, difficulty, checkpoints and every unit's angle", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer({ imageSize: 8, patchSize: 4, embedDim: 16, depth: 4, numHeads: 2, numClasses: 3 }), (_u, i) => 1 + i);
    const plan = planFapft(computeAngles(pair.pre, pair.ft), { difficulty: "hard", topk: "1" }, { pretrained: pair.pre, finetuned: pair.ft });
    assert.deepEqual([plan.strategy, plan.topk, plan.direction, plan.difficulty], ["fapft", [1], "largest", "hard"]);
    assert.deepEqual(plan.units, ["blocks.3.attn", "blocks.3.ffn"]);
    assert.deepEqual(plan.checkpoints, { pretrained: pair.pre, finetuned: pair.ft });
    assert.equal(Object.keys(plan.angles!).length, 8);
    assert.ok(Math.abs(plan.angles!["blocks.3.ffn"] - 8) < 1e-9);
    const file = join(dir, "fapft.json");
    savePlan(file, plan);
    assert.deepEqual(loadPlan(file, pair.catalog), plan);
  } finally {
    cleanup();
  }
});

test("loading rejects malformed plans and plans that do not fit the model, naming the problem", () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = planForStrategy(VIT, "ffn-last-half");
    const write = (name: string, value: unknown) => {
      const f = join(dir, name);
      writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
      return f;
    };
    assert.throws(() => loadPlan(write("a.json", "{ not json")), configError(/a\.json: not a plan: invalid JSON/));
    assert.throws(() => loadPlan(write("b.json", { ...good, format: "other" })), configError(/"format"/));
    assert.throws(() => loadPlan(write("c.json", { ...good, version: 9 })), configError(/"version" is 9/));
    assert.throws(() => loadPlan(write("d.json", { ...good, strategy: "magic" })), configError(/unknown "strategy"/));
    assert.throws(() => loadPlan(write("e.json", { ...good, trainable: [...good.trainable, good.trainable[0]] })), configError(/lists 'blocks\.6\.mlp\.fc1\.bias' twice/));
    assert.throws(() => loadPlan(write("f.json", { ...good, counts: { trainable: -1, total: 5 } })), configError(/"counts"/));
    assert.throws(() => loadPlan(write("g.json", { ...good, topk: [4] })), configError(/"topk" must be null/));
    assert.throws(() => loadPlan(join(dir, "missing.json")), (e: unknown) => e instanceof PftError && e.code === "io");
    // Against a catalog.
    const f = write("h.json", good);
    assert.throws(() => loadPlan(f, paperCatalog("swin_base_patch4_window7_224", 100)), configError(/it is for vit, the model is swin/));
    assert.throws(() => loadPlan(write("i.json", { ...good, counts: { ...good.counts, trainable: good.counts.trainable + 1 } }), VIT), configError(/"counts\.trainable" is .* but its trainable names hold/));
    assert.throws(() => loadPlan(write("j.json", { ...good, trainable: [...good.trainable, "blocks.99.mlp.fc1.weight"] }), VIT), configError(/'blocks\.99\.mlp\.fc1\.weight' is not in this vit model/));
    assert.throws(() => loadPlan(write("k.json", { ...good, units: [], trainable: good.trainable.filter((n) => n !== "blocks.6.norm2.bias") }), VIT), configError(/'blocks\.6\.ffn' is partly trainable/));
    assert.throws(() => loadPlan(f, paperCatalog("vit_base_patch16_224", 1000)), configError(/"counts\.total"/));
  } finally {
    cleanup();
  }
});

test("saving is atomic: a failed save leaves the old file as it was and no temporary file", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, "plan.json");
    savePlan(file, planForStrategy(VIT, "attn"));
    const before = readFileSync(file, "utf8");
    const broken = { ...planForStrategy(VIT, "ffn"), counts: { trainable: 10, total: 5 } } as Plan;
    assert.throws(() => savePlan(file, broken), configError(/10 trainable of 5 total/));
    assert.equal(readFileSync(file, "utf8"), before);
    assert.throws(() => savePlan(join(dir, "no", "such", "dir.json"), planForStrategy(VIT, "attn")), (e: unknown) => e instanceof PftError && e.code === "io");
    assert.deepEqual(readdirSync(dir), ["plan.json"]);
    assert.ok(!existsSync(join(dir, "no")));
  } finally {
    cleanup();
  }
});

test("the PyTorch snippet freezes everything, then unfreezes exactly the plan's names (run in PyTorch)", () => {
  const { dir, cleanup } = tempDir();
  try {
    const fixture = readFixture("swin_base_patch4_window7_224");
    const plan = planForStrategy(paperCatalog("swin_base_patch4_window7_224", 100), "blocks-last-half");
    const file = join(dir, "plan.json");
    savePlan(file, plan);
    const snippet = torchSnippet(plan, file);
    assert.match(snippet, /requires_grad_\(False\)/);
    writeFileSync(join(dir, "shapes.json"), JSON.stringify(Object.fromEntries(shapesWithClasses(fixture, 100))));
    writeFileSync(join(dir, "snippet.py"), snippet);
    // A module with timm's parameter names (meta tensors: no memory), then the snippet as emitted.
    const out = runPython(
      [
        "import json, sys, torch",
        "model = torch.nn.Module()",
        "for name, shape in json.load(open(sys.argv[1])).items():",
        "    *path, leaf = name.split('.')",
        "    m = model",
        "    for p in path:",
        "        if not hasattr(m, p): m.add_module(p, torch.nn.Module())",
        "        m = getattr(m, p)",
        "    m.register_parameter(leaf, torch.nn.Parameter(torch.empty(shape, device='meta')))",
        "exec(open(sys.argv[2]).read())",
        "print(json.dumps(sorted(n for n, p in model.named_parameters() if p.requires_grad)))",
      ].join("\n"),
      [join(dir, "shapes.json"), join(dir, "snippet.py")],
    );
    assert.deepEqual(JSON.parse(out), [...plan.trainable].sort());
  } finally {
    cleanup();
  }
});
