// Exact trainable-parameter counts against the paper's Params columns (millions, within 0.01M):
// Table 1, Table 3's individual runs, Table 8. CIFAR-100 = 100 classes, ImageNet-1K = 1000.
// The FAPFT top-k of each run is worked out from its Params number (see docs/partial.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PftError } from "../../src/index.js";
import { countParams, modelCatalog, type StrategyId } from "../../src/partial/index.js";
import { paperCatalog } from "./shapes.js";

const VIT = "vit_base_patch16_224";
const SWIN = "swin_base_patch4_window7_224";
const CONVNEXT = "convnext_base";
const ASMLP = "asmlp_base";
const C100 = 100;
const IN1K = 1000;

type Row = [model: string, classes: number, strategy: StrategyId, topk: number[] | null, paper: number];

function check(table: string, rows: Row[]): void {
  for (const [model, classes, strategy, topk, paper] of rows) {
    const what = `${table}: ${model}, ${classes} classes, ${strategy}${topk ? ` [${topk.join(",")}]` : ""}`;
    test(`${what} = ${paper}M`, () => {
      const { trainable } = countParams(paperCatalog(model, classes), strategy, topk ? { topk } : {});
      const m = trainable / 1e6;
      assert.ok(Math.abs(m - paper) <= 0.01, `${what}: ${m.toFixed(4)}M, the paper says ${paper}M`);
    });
  }
}

check("Table 1", [
  [VIT, C100, "full", null, 85.88], [VIT, IN1K, "full", null, 86.57],
  [VIT, C100, "linear", null, 0.08], [VIT, IN1K, "linear", null, 0.77],
  [VIT, C100, "attn", null, 28.44], [VIT, IN1K, "attn", null, 29.14],
  [VIT, C100, "ffn", null, 56.76], [VIT, IN1K, "ffn", null, 57.46],
  [VIT, C100, "fapft", [7], 49.69], [VIT, IN1K, "fapft", [2], 14.95],
  [SWIN, C100, "full", null, 86.85], [SWIN, IN1K, "full", null, 87.77],
  [SWIN, C100, "linear", null, 0.1], [SWIN, IN1K, "linear", null, 1.03],
  [SWIN, C100, "attn", null, 28.16], [SWIN, IN1K, "attn", null, 29.08],
  [SWIN, C100, "ffn", null, 56.02], [SWIN, IN1K, "ffn", null, 56.95],
  [SWIN, C100, "fapft", [2, 2, 6, 1], 33.61], [SWIN, IN1K, "fapft", [0, 0, 5, 2], 42.01],
  [CONVNEXT, C100, "full", null, 87.67], [CONVNEXT, IN1K, "full", null, 88.59],
  [CONVNEXT, C100, "linear", null, 0.1], [CONVNEXT, IN1K, "linear", null, 1.03],
  [CONVNEXT, C100, "fapft", [3, 3, 11, 2], 45.19], [CONVNEXT, IN1K, "fapft", [0, 0, 5, 3], 39.76],
  [ASMLP, C100, "full", null, 86.83], [ASMLP, C100, "linear", null, 0.1],
  [ASMLP, C100, "fapft", [2, 2, 6, 2], 46.21],
]);

check("Table 3", [
  // (a) ViT-B/16 on ImageNet-1K: FFT, then FAPFT runs 1-5 (top-k 1, 2, 3, 4, 5).
  [VIT, IN1K, "full", null, 86.57],
  [VIT, IN1K, "fapft", [1], 7.86], [VIT, IN1K, "fapft", [2], 14.95], [VIT, IN1K, "fapft", [3], 22.03],
  [VIT, IN1K, "fapft", [4], 29.12], [VIT, IN1K, "fapft", [5], 36.21],
  // (b) ViT-B/16 on CIFAR-100: top-k 2, 3, 4, 5, 7.
  [VIT, C100, "full", null, 85.88],
  [VIT, C100, "fapft", [2], 14.25], [VIT, C100, "fapft", [3], 21.34], [VIT, C100, "fapft", [4], 28.43],
  [VIT, C100, "fapft", [5], 35.52], [VIT, C100, "fapft", [7], 49.69],
  // (c) Swin-B on ImageNet-1K.
  [SWIN, IN1K, "full", null, 87.77],
  [SWIN, IN1K, "fapft", [0, 0, 1, 2], 29.39], [SWIN, IN1K, "fapft", [0, 0, 2, 2], 32.54], [SWIN, IN1K, "fapft", [0, 0, 5, 2], 42.01],
  [SWIN, IN1K, "fapft", [0, 0, 8, 2], 51.47], [SWIN, IN1K, "fapft", [0, 0, 10, 2], 57.78],
  // (d) Swin-B on CIFAR-100.
  [SWIN, C100, "full", null, 86.85],
  [SWIN, C100, "fapft", [1, 1, 6, 1], 32.62], [SWIN, C100, "fapft", [2, 2, 6, 1], 33.61], [SWIN, C100, "fapft", [1, 1, 7, 1], 35.78],
  [SWIN, C100, "fapft", [2, 2, 7, 1], 36.77], [SWIN, C100, "fapft", [1, 1, 6, 2], 45.23],
]);

check("Table 8", [
  // (a) Swin-B on ImageNet-1K; the first row, all blocks, is full fine-tuning.
  [SWIN, IN1K, "full", null, 87.77],
  [SWIN, IN1K, "fapft", [0, 0, 3, 2], 35.69], [SWIN, IN1K, "fapft", [0, 0, 4, 2], 38.85],
  [SWIN, IN1K, "fapft", [0, 0, 5, 2], 42.01], [SWIN, IN1K, "fapft", [0, 0, 6, 2], 45.16],
  // (b) ConvNeXt-B on ImageNet-1K.
  [CONVNEXT, IN1K, "full", null, 88.59],
  [CONVNEXT, IN1K, "fapft", [0, 0, 6, 3], 41.89], [CONVNEXT, IN1K, "fapft", [0, 0, 7, 3], 44.02],
  [CONVNEXT, IN1K, "fapft", [0, 0, 8, 3], 46.15], [CONVNEXT, IN1K, "fapft", [0, 0, 9, 3], 48.28],
  // (c) Swin-B on CIFAR-100.
  [SWIN, C100, "full", null, 86.85],
  [SWIN, C100, "fapft", [1, 1, 5, 1], 29.47], [SWIN, C100, "fapft", [1, 1, 6, 1], 32.62],
  [SWIN, C100, "fapft", [2, 2, 5, 1], 30.46], [SWIN, C100, "fapft", [2, 2, 6, 1], 33.61],
  // (d) ConvNeXt-B on CIFAR-100.
  [CONVNEXT, C100, "full", null, 87.67],
  [CONVNEXT, C100, "fapft", [2, 2, 9, 1], 31.81], [CONVNEXT, C100, "fapft", [3, 3, 9, 1], 32.49],
  [CONVNEXT, C100, "fapft", [3, 3, 11, 1], 36.74], [CONVNEXT, C100, "fapft", [3, 3, 11, 2], 45.19],
  // (e) AS-MLP-B on CIFAR-100.
  [ASMLP, C100, "full", null, 86.83],
  [ASMLP, C100, "fapft", [1, 1, 6, 1], 32.62], [ASMLP, C100, "fapft", [1, 1, 6, 2], 45.22],
  [ASMLP, C100, "fapft", [2, 2, 6, 1], 33.61], [ASMLP, C100, "fapft", [2, 2, 6, 2], 46.21],
]);

test("Table 8: top-k = every block counts the units and the policy's extras (the tables' first rows are full fine-tuning)", () => {
  // Swin freezes its patch embedding (6,528), patch merging (2,759,680) and final norm (2,048).
  const swin = paperCatalog(SWIN, IN1K);
  assert.equal(countParams(swin, "fapft", { topk: [2, 2, 18, 2] }).trainable, swin.total - 6_528 - 2_759_680 - 2_048);
  // ConvNeXt trains stem, downsampling and head norm with its blocks: every block is everything.
  const conv = paperCatalog(CONVNEXT, IN1K);
  assert.equal(countParams(conv, "fapft", { topk: [3, 3, 27, 3] }).trainable, conv.total);
});

test("exact integers behind the ViT-B/16 numbers (units + head, nothing else)", () => {
  const c = paperCatalog(VIT, C100);
  assert.deepEqual(countParams(c, "attn"), { trainable: 12 * 2_363_904 + 76_900, total: 85_875_556 });
  assert.deepEqual(countParams(c, "ffn"), { trainable: 12 * 4_723_968 + 76_900, total: 85_875_556 });
  assert.deepEqual(countParams(c, "linear"), { trainable: 76_900, total: 85_875_556 });
  assert.deepEqual(countParams(c, "blocks-last-half"), { trainable: 6 * (2_363_904 + 4_723_968) + 76_900, total: 85_875_556 });
});

test("Table 7 defaults: ViT 4, Swin [2,2,6,1] easy / [0,0,6,2] hard, ConvNeXt [3,3,9,1] / [0,0,9,3], AS-MLP [2,2,6,1] easy", () => {
  const same = (model: string, difficulty: "easy" | "hard", topk: number[]) => {
    const c = paperCatalog(model, IN1K);
    assert.deepEqual(countParams(c, "fapft", { difficulty }), countParams(c, "fapft", { topk }), `${model} ${difficulty}`);
  };
  same(VIT, "easy", [4]);
  same(VIT, "hard", [4]);
  same(SWIN, "easy", [2, 2, 6, 1]);
  same(SWIN, "hard", [0, 0, 6, 2]);
  same(CONVNEXT, "easy", [3, 3, 9, 1]);
  same(CONVNEXT, "hard", [0, 0, 9, 3]);
  same(ASMLP, "easy", [2, 2, 6, 1]);
  assert.throws(() => countParams(paperCatalog(ASMLP, C100), "fapft", { difficulty: "hard" }), (e: unknown) => e instanceof PftError && e.code === "config" && /no default top-k for hard/.test(e.message));
  assert.throws(() => countParams(paperCatalog(VIT, C100), "fapft"), (e: unknown) => e instanceof PftError && e.code === "config" && /top-k/.test(e.message));
});

test("an unknown model or a bad class count is PftError('config')", () => {
  assert.throws(() => modelCatalog("vit_colossal_patch1"), (e: unknown) => e instanceof PftError && e.code === "config" && /unknown model 'vit_colossal_patch1'/.test(e.message));
  assert.throws(() => modelCatalog("vit_micro_patch4_28", 0), (e: unknown) => e instanceof PftError && e.code === "config" && /classes/.test(e.message));
});
