// FAPFT selection (section 3.2, appendix B.2-B.4): top-k per stage within each homogeneous group,
// by largest or smallest angle; impossible top-k values; end to end from synthetic checkpoints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PftError } from "../../src/index.js";
import { catalogOf, VisionTransformer, SwinTransformer, ConvNeXt, AsMlp, type VisionModel } from "../../src/models/index.js";
import { parseTopk, validateTopk, resolveTopk, selectFapft, computeAngles, planFapft, countParams } from "../../src/partial/index.js";
import { tempDir } from "../helpers/reference.js";
import { paperCatalog } from "./shapes.js";
import { writePair } from "./synthetic.js";

const configError = (re: RegExp) => (e: unknown) => e instanceof PftError && e.code === "config" && re.test(e.message);

test("top-k parses as per-stage counts: 4, 0,0,6,2 and [0, 0, 6, 2]", () => {
  assert.deepEqual(parseTopk("4"), [4]);
  assert.deepEqual(parseTopk("0,0,6,2"), [0, 0, 6, 2]);
  assert.deepEqual(parseTopk(" [0, 0, 6, 2] "), [0, 0, 6, 2]);
});

test("impossible top-k values are PftError('config') with a clear message", () => {
  const vit = paperCatalog("vit_base_patch16_224", 1000);
  const swin = paperCatalog("swin_base_patch4_window7_224", 1000);
  assert.throws(() => parseTopk("-1"), configError(/-1 is negative/));
  assert.throws(() => parseTopk("2.5"), configError(/'2\.5' is not a whole number/));
  assert.throws(() => parseTopk("two"), configError(/'two' is not a whole number/));
  assert.throws(() => parseTopk("0,,6,2"), configError(/comma-separated/));
  assert.throws(() => parseTopk(""), configError(/comma-separated/));
  assert.throws(() => resolveTopk(vit, { topk: "13" }), configError(/top-k for stage 0 is 13 but group 'attn' holds only 12 units/));
  assert.throws(() => resolveTopk(swin, { topk: "4" }), configError(/1 entry but swin has 4 stages/));
  assert.throws(() => resolveTopk(vit, { topk: "0,0,6,2" }), configError(/4 entries but vit has 1 stage/));
  assert.throws(() => resolveTopk(swin, { topk: "3,0,6,2" }), configError(/stage 0 is 3 but group 'stage0\.attn' holds only 2 units/));
  assert.throws(() => resolveTopk(swin, { topk: "0,0,6,3" }), configError(/stage 3 is 3 .* 'stage3\.attn' holds only 2/));
  assert.throws(() => validateTopk(vit, [-2]), configError(/whole number >= 0/));
  assert.throws(() => validateTopk(vit, [1.5]), configError(/whole number >= 0/));
  // Table 7's defaults are for the -B models; one that does not fit a smaller model says so.
  assert.deepEqual(resolveTopk(paperCatalog("convnext_base", 1000), { difficulty: "hard" }), [0, 0, 9, 3]);
  const micro = catalogOf(new ConvNeXt({ imageSize: 32, patchSize: 2, depths: [2, 2, 4, 2], dims: [8, 16, 32, 64] }));
  assert.throws(() => resolveTopk(micro, { difficulty: "hard" }), configError(/Table 7 \(ConvNeXt-B\)'s default top-k \[0, 0, 9, 3\] does not fit this model .*give one/));
});

test("selection takes the top-k of every group by largest or smallest angle (Swin-B's 8 groups)", () => {
  const cat = paperCatalog("swin_base_patch4_window7_224", 1000);
  // Angles rising with depth for attention units, falling for FFN units.
  const angles = new Map(cat.units.map((u) => [u.name, u.kind === "attn" ? 1 + u.index : 100 - u.index]));
  const largest = selectFapft(cat, angles, { topk: [0, 0, 6, 2], direction: "largest" }).map((u) => u.name);
  const want = [
    ...[12, 13, 14, 15, 16, 17].map((b) => `layers.2.blocks.${b}.attn`),
    ...[0, 1, 2, 3, 4, 5].map((b) => `layers.2.blocks.${b}.ffn`),
    "layers.3.blocks.0.attn", "layers.3.blocks.1.attn", "layers.3.blocks.0.ffn", "layers.3.blocks.1.ffn",
  ];
  assert.deepEqual([...largest].sort(), [...want].sort());
  const smallest = selectFapft(cat, angles, { topk: [1, 0, 2, 0], direction: "smallest" }).map((u) => u.name);
  assert.deepEqual(smallest, ["layers.0.blocks.0.attn", "layers.0.blocks.1.ffn", "layers.2.blocks.0.attn", "layers.2.blocks.1.attn", "layers.2.blocks.16.ffn", "layers.2.blocks.17.ffn"]);
  // Ties go to the earlier unit.
  const flat = new Map(cat.units.map((u) => [u.name, 1]));
  assert.deepEqual(selectFapft(cat, flat, { topk: [1, 0, 0, 0], direction: "largest" }).map((u) => u.name), ["layers.0.blocks.0.attn", "layers.0.blocks.0.ffn"]);
  assert.throws(() => selectFapft(cat, new Map(), { topk: [1, 0, 0, 0], direction: "largest" }), /no angle for unit 'layers\.0\.blocks\.0\.attn'/);
});

test("end to end on ViT: hard picks the largest angles, easy the smallest, with Table 7's top-k 4", () => {
  const { dir, cleanup } = tempDir();
  try {
    // 12 blocks; attention angle rises with depth, FFN angle falls.
    const model = new VisionTransformer({ imageSize: 8, patchSize: 4, embedDim: 16, depth: 12, numHeads: 2, numClasses: 10 });
    const pair = writePair(dir, model, (u) => {
      const b = Number(/blocks\.(\d+)/.exec(u)![1]);
      return u.endsWith("attn") ? 0.5 + b : 20 - b;
    });
    const report = computeAngles(pair.pre, pair.ft);
    const hard = planFapft(report, { difficulty: "hard" });
    assert.deepEqual(hard.topk, [4]);
    assert.equal(hard.direction, "largest");
    assert.deepEqual(hard.units, ["blocks.0.ffn", "blocks.1.ffn", "blocks.2.ffn", "blocks.3.ffn", "blocks.8.attn", "blocks.9.attn", "blocks.10.attn", "blocks.11.attn"]);
    const easy = planFapft(report, { difficulty: "easy", topk: "2" });
    assert.equal(easy.direction, "smallest");
    assert.deepEqual(easy.units, ["blocks.0.attn", "blocks.1.attn", "blocks.10.ffn", "blocks.11.ffn"]);
    // The count from the plan equals the count from top-k alone.
    assert.equal(hard.counts.trainable, countParams(pair.catalog, "fapft", { topk: [4] }).trainable);
    // Fig. 6's ablation: easy's top-k, against its direction.
    assert.equal(planFapft(report, { difficulty: "easy", direction: "largest" }).direction, "largest");
    assert.throws(() => planFapft(report, { topk: "2" }), configError(/needs a direction/));
  } finally {
    cleanup();
  }
});

// Narrow four-stage models (the depths of the registered micro variants), quick to build and rotate.
const FOUR_STAGE: [string, () => VisionModel][] = [
  ["swin", () => new SwinTransformer({ imageSize: 32, patchSize: 2, embedDim: 8, depths: [2, 2, 6, 2], numHeads: [1, 1, 2, 2], windowSize: 4, numClasses: 5 })],
  ["convnext", () => new ConvNeXt({ imageSize: 32, patchSize: 2, depths: [2, 2, 4, 2], dims: [8, 16, 32, 64], numClasses: 5 })],
  ["asmlp", () => new AsMlp({ imageSize: 32, patchSize: 2, embedDim: 8, depths: [2, 2, 6, 2], shiftSize: 3, numClasses: 5 })],
];

for (const [name, make] of FOUR_STAGE) {
  test(`end to end on a four-stage model (${name}): per-stage top-k within each group`, () => {
    const { dir, cleanup } = tempDir();
    try {
      const model = make();
      const pair = writePair(dir, model, (_u, i) => 0.01 * (1 + ((i * 7) % 13)));
      const report = computeAngles(pair.pre, pair.ft);
      for (const u of report.units) assert.ok(Math.abs(u.angle - pair.expected.get(u.name)!) / pair.expected.get(u.name)! < 1e-9, u.name);
      const topk = [0, 1, 2, 1];
      const plan = planFapft(report, { topk, direction: "largest" });
      for (const g of pair.catalog.groups) {
        const chosen = g.units.filter((u) => plan.units.includes(u.name));
        assert.equal(chosen.length, topk[g.stage], g.id);
        const minChosen = Math.min(...chosen.map((u) => pair.expected.get(u.name)!));
        const maxOther = Math.max(-1, ...g.units.filter((u) => !chosen.includes(u)).map((u) => pair.expected.get(u.name)!));
        if (chosen.length) assert.ok(minChosen >= maxOther, `${g.id}: chose ${minChosen} over ${maxOther}`);
      }
      assert.equal(plan.counts.trainable, countParams(pair.catalog, "fapft", { topk }).trainable);
      model.dispose();
    } finally {
      cleanup();
    }
  });
}
