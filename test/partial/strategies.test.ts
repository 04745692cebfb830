// The ten manual strategies (section 3.1, Fig. 3's A-I plus linear probing) as unit sets, on
// ViT-B/16, Swin-B, ConvNeXt-B and AS-MLP-B catalogs (names and shapes only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PftError } from "../../src/index.js";
import { STRATEGIES, parseStrategy, unitsForStrategy, trainableSet, type StrategyName } from "../../src/partial/index.js";
import { paperCatalog } from "./shapes.js";

const VIT = paperCatalog("vit_base_patch16_224", 1000);
const SWIN = paperCatalog("swin_base_patch4_window7_224", 1000);
const CONVNEXT = paperCatalog("convnext_base", 1000);
const ASMLP = paperCatalog("asmlp_base", 1000);

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const names = (s: StrategyName, cat = VIT) => unitsForStrategy(cat, s).map((u) => u.name);

test("strategies parse by name, by Fig. 3's letter, and by the paper's aliases; unknown ones are PftError('config')", () => {
  assert.deepEqual(STRATEGIES.map((s) => [s.letter, s.name]), [
    ["A", "full"], ["B", "attn"], ["C", "ffn"], ["D", "attn-first-half"], ["E", "attn-last-half"],
    ["F", "ffn-first-half"], ["G", "ffn-last-half"], ["H", "blocks-first-half"], ["I", "blocks-last-half"], [null, "linear"],
  ]);
  for (const s of STRATEGIES) {
    assert.equal(parseStrategy(s.name), s.name);
    if (s.letter) assert.equal(parseStrategy(s.letter), s.name);
  }
  assert.equal(parseStrategy("fapft"), "fapft");
  assert.equal(parseStrategy("attn-only"), "attn");
  assert.equal(parseStrategy("g"), "ffn-last-half");
  assert.throws(() => parseStrategy("attention-ish"), (e: unknown) => e instanceof PftError && e.code === "config" && /unknown strategy 'attention-ish'.*blocks-last-half \(I\)/.test(e.message));
  assert.throws(() => parseStrategy("J"), (e: unknown) => e instanceof PftError && e.code === "config");
});

test("ViT-B/16: the ten strategies' unit sets (12 blocks, halves 0-5 / 6-11)", () => {
  const attn = (bs: number[]) => bs.map((b) => `blocks.${b}.attn`);
  const ffn = (bs: number[]) => bs.map((b) => `blocks.${b}.ffn`);
  const both = (bs: number[]) => bs.flatMap((b) => [`blocks.${b}.attn`, `blocks.${b}.ffn`]);
  assert.deepEqual(names("full"), []);
  assert.deepEqual(names("linear"), []);
  assert.deepEqual(names("attn"), attn(range(0, 12)));
  assert.deepEqual(names("ffn"), ffn(range(0, 12)));
  assert.deepEqual(names("attn-first-half"), attn(range(0, 6)));
  assert.deepEqual(names("attn-last-half"), attn(range(6, 12)));
  assert.deepEqual(names("ffn-first-half"), ffn(range(0, 6)));
  assert.deepEqual(names("ffn-last-half"), ffn(range(6, 12)));
  assert.deepEqual(names("blocks-first-half"), both(range(0, 6)));
  assert.deepEqual(names("blocks-last-half"), both(range(6, 12)));
  // full trains everything, linear only the head; the head is trained by every strategy.
  assert.equal(trainableSet(VIT, "full", []).trainable, VIT.total);
  assert.deepEqual(trainableSet(VIT, "linear", []).names, ["head.bias", "head.weight"]);
  for (const s of STRATEGIES) assert.ok(trainableSet(VIT, s.name, unitsForStrategy(VIT, s.name)).names.includes("head.weight"), s.name);
});

test("Swin-B: halves run over all 24 blocks across stages ([2,2,18,2]: stage 2 is split at block 8)", () => {
  const blocks = [...range(0, 2).map((b) => [0, b]), ...range(0, 2).map((b) => [1, b]), ...range(0, 18).map((b) => [2, b]), ...range(0, 2).map((b) => [3, b])];
  const first = blocks.slice(0, 12);
  const last = blocks.slice(12);
  const n = (bs: number[][], k: string) => bs.map(([s, b]) => `layers.${s}.blocks.${b}.${k}`);
  assert.deepEqual(names("attn", SWIN), n(blocks, "attn"));
  assert.deepEqual(names("ffn", SWIN), n(blocks, "ffn"));
  assert.deepEqual(names("attn-first-half", SWIN), n(first, "attn"));
  assert.deepEqual(names("attn-last-half", SWIN), n(last, "attn"));
  assert.deepEqual(names("ffn-first-half", SWIN), n(first, "ffn"));
  assert.deepEqual(names("ffn-last-half", SWIN), n(last, "ffn"));
  assert.deepEqual(names("blocks-first-half", SWIN), first.flatMap(([s, b]) => [`layers.${s}.blocks.${b}.attn`, `layers.${s}.blocks.${b}.ffn`]));
  assert.deepEqual(names("blocks-last-half", SWIN), last.flatMap(([s, b]) => [`layers.${s}.blocks.${b}.attn`, `layers.${s}.blocks.${b}.ffn`]));
  assert.equal(names("blocks-last-half", SWIN)[0], "layers.2.blocks.8.attn");
  assert.deepEqual(names("full", SWIN), []);
  assert.deepEqual(names("linear", SWIN), []);
  assert.deepEqual(trainableSet(SWIN, "linear", []).names, ["head.fc.bias", "head.fc.weight"]);
});

test("ConvNeXt-B: only the block strategies apply (36 blocks, halves of 18); attn/ffn strategies are PftError('config')", () => {
  const blocks = [...range(0, 3).map((b) => [0, b]), ...range(0, 3).map((b) => [1, b]), ...range(0, 27).map((b) => [2, b]), ...range(0, 3).map((b) => [3, b])];
  const n = (bs: number[][]) => bs.map(([s, b]) => `stages.${s}.blocks.${b}`);
  assert.deepEqual(names("blocks-first-half", CONVNEXT), n(blocks.slice(0, 18)));
  assert.deepEqual(names("blocks-last-half", CONVNEXT), n(blocks.slice(18)));
  assert.deepEqual(names("full", CONVNEXT), []);
  assert.deepEqual(names("linear", CONVNEXT), []);
  for (const s of ["attn", "ffn", "attn-first-half", "attn-last-half", "ffn-first-half", "ffn-last-half"] as const) {
    assert.throws(
      () => unitsForStrategy(CONVNEXT, s),
      (e: unknown) => e instanceof PftError && e.code === "config" && new RegExp(`strategy '${s}' .* does not apply to convnext.*block`).test(e.message),
    );
  }
});

test("AS-MLP-B: AS units play the attention role and MLP units the FFN role (Table 6)", () => {
  assert.ok(names("attn", ASMLP).every((n) => n.endsWith(".as")));
  assert.equal(names("attn", ASMLP).length, 24);
  assert.ok(names("ffn-last-half", ASMLP).every((n) => n.endsWith(".mlp")));
  assert.equal(names("ffn-last-half", ASMLP)[0], "layers.2.blocks.8.mlp");
});

test("trainable names: the head always; ConvNeXt's partial strategies add stem, downsampling and head norm; ViT/Swin/AS-MLP add nothing", () => {
  const others = (cat: typeof VIT, s: StrategyName) => trainableSet(cat, s, unitsForStrategy(cat, s)).names.filter((n) => !unitsForStrategy(cat, s).some((u) => u.params.includes(n)));
  assert.deepEqual(others(VIT, "attn"), ["head.bias", "head.weight"]);
  assert.deepEqual(others(SWIN, "ffn-first-half"), ["head.fc.bias", "head.fc.weight"]);
  assert.deepEqual(others(ASMLP, "attn"), ["head.bias", "head.weight"]);
  const conv = others(CONVNEXT, "blocks-last-half");
  assert.deepEqual(conv.filter((n) => !n.includes("downsample")), ["head.fc.bias", "head.fc.weight", "head.norm.bias", "head.norm.weight", "stem.0.bias", "stem.0.weight", "stem.1.bias", "stem.1.weight"]);
  assert.equal(conv.filter((n) => n.includes("downsample")).length, 12);
  // Linear probing is the classifier alone, even on ConvNeXt.
  assert.deepEqual(trainableSet(CONVNEXT, "linear", []).names, ["head.fc.bias", "head.fc.weight"]);
});
