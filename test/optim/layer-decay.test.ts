// Layer-wise lr decay against timm's rule (param_groups_layer_decay over group_matcher), with the
// expected scales computed by hand from timm's formula on timm's parameter names:
//   ViT-B/16 (12 blocks): ids stem 0, blocks.i i+1, norm joins block 11, head 13: L = 14, scale d^(13 - id).
//   ConvNeXt-T (depths 3, 3, 9, 3 = 18 blocks): stem 0, the blocks 1..18 in order (a stage's
//   downsample joins its block 0), head 19: L = 20, scale d^(19 - id).
import { test } from "node:test";
import assert from "node:assert/strict";
import { layerDecayScales, layerIds, paramGroupsLayerDecay } from "../../src/optim/index.js";
import { createModel } from "../../src/models/index.js";
import { PftError } from "../../src/errors.js";

const d = 0.65;
const close = (a: number | undefined, b: number, what: string) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-12 * Math.max(1, b), `${what}: ${a} vs ${b}`);

function vitNames(depth: number): string[] {
  const block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"];
  return ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", ...Array.from({ length: depth }, (_, i) => block.map((b) => `blocks.${i}.${b}`)).flat(), "norm.weight", "norm.bias", "head.weight", "head.bias"];
}

function convnextNames(depths: number[]): string[] {
  const block = ["gamma", "conv_dw.weight", "conv_dw.bias", "norm.weight", "norm.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"];
  const names = ["stem.0.weight", "stem.0.bias", "stem.1.weight", "stem.1.bias"];
  depths.forEach((n, s) => {
    if (s > 0) names.push(`stages.${s}.downsample.0.weight`, `stages.${s}.downsample.0.bias`, `stages.${s}.downsample.1.weight`, `stages.${s}.downsample.1.bias`);
    for (let b = 0; b < n; b++) names.push(...block.map((x) => `stages.${s}.blocks.${b}.${x}`));
  });
  return [...names, "head.norm.weight", "head.norm.bias", "head.fc.weight", "head.fc.bias"];
}

test("ViT-B/16: embeddings at d^13, block i at d^(12 - i), the final norm with the last block, the head at 1", () => {
  const s = layerDecayScales("vit", vitNames(12), d);
  assert.equal(layerIds("vit", vitNames(12)).numLayers, 14);
  for (const n of ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]) close(s.get(n), d ** 13, n);
  close(s.get("blocks.0.attn.qkv.weight"), d ** 12, "blocks.0");
  close(s.get("blocks.5.mlp.fc2.bias"), d ** 7, "blocks.5");
  close(s.get("blocks.11.norm1.weight"), d, "blocks.11");
  close(s.get("norm.weight"), d, "norm");
  close(s.get("head.weight"), 1, "head");
  close(s.get("head.bias"), 1, "head");
});

test("ConvNeXt-T: stem at d^19, a stage's downsample with its first block, head.norm and head.fc at 1", () => {
  const names = convnextNames([3, 3, 9, 3]);
  const s = layerDecayScales("convnext", names, d);
  assert.equal(layerIds("convnext", names).numLayers, 20);
  close(s.get("stem.0.weight"), d ** 19, "stem");
  close(s.get("stages.0.blocks.0.conv_dw.weight"), d ** 18, "stages.0.blocks.0");
  close(s.get("stages.0.blocks.2.gamma"), d ** 16, "stages.0.blocks.2");
  close(s.get("stages.1.downsample.1.weight"), d ** 15, "stages.1.downsample");
  close(s.get("stages.1.blocks.0.mlp.fc1.weight"), d ** 15, "stages.1.blocks.0");
  close(s.get("stages.2.blocks.8.norm.bias"), d ** 4, "stages.2.blocks.8");
  close(s.get("stages.3.downsample.0.weight"), d ** 3, "stages.3.downsample");
  close(s.get("stages.3.blocks.2.mlp.fc2.weight"), d, "stages.3.blocks.2");
  close(s.get("head.norm.weight"), 1, "head.norm");
  close(s.get("head.fc.bias"), 1, "head.fc");
});

test("the groups hold the trainable parameters only, the layer map counts the frozen ones too; bad input is refused", () => {
  const model = createModel("vit_micro_patch4_28");
  try {
    const depth = new Set(model.namedParameters().map((p) => p.name).filter((n) => n.startsWith("blocks.")).map((n) => n.split(".")[1])).size;
    model.setTrainable((n) => n.startsWith("head.") || n.startsWith(`blocks.${depth - 1}.`), true);
    model.setTrainable((n) => !(n.startsWith("head.") || n.startsWith(`blocks.${depth - 1}.`)), false);
    const groups = paramGroupsLayerDecay("vit", model.namedParameters(), 0.05, model.noWeightDecay(), 0.5);
    const got = new Map(groups.flatMap((g) => g.params.map((p) => [p.name, { lrScale: g.lrScale, wd: g.weightDecay }] as const)));
    assert.equal(got.size, model.trainableParameters().length);
    assert.deepEqual(got.get("head.weight"), { lrScale: 1, wd: 0.05 });
    assert.deepEqual(got.get("head.bias"), { lrScale: 1, wd: 0 });
    assert.deepEqual(got.get(`blocks.${depth - 1}.attn.qkv.weight`), { lrScale: 0.5, wd: 0.05 }, "the last block is one below the head even with the rest frozen");
  } finally {
    model.dispose();
  }
  assert.throws(() => layerDecayScales("vit", vitNames(2), 0), PftError);
  assert.throws(() => layerDecayScales("vit", vitNames(2), 1.5), PftError);
  assert.throws(() => layerIds("asmlp", ["stem.weight"]), /no layer map for the asmlp architecture/);
});

test("pft pretrain --layer-decay: recorded in run.json, and the optimizer's groups step at lr * D^(L-1-id)", async () => {
  const { spawnSync } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { tempDir } = await import("../helpers/reference.js");
  const { dir, cleanup } = tempDir();
  try {
    const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
    const r = spawnSync(process.execPath, [cli, "pretrain", "--model", "vit_micro_patch4_28", "--data", "digits", "--train-per-class", "8", "--val", "0", "--batch-size", "16", "--steps", "2", "--warmup-steps", "0", "--layer-decay", "0.7", "--out", dir, "--quiet"], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(join(dir, "run.json"), "utf8")).config.layerDecay, 0.7);
    const { checkpoint } = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8"));
    const state = JSON.parse(readFileSync(join(dir, checkpoint, "state.json"), "utf8")) as { optimizer: { groups: { lr: number; lrScale: number; params: string[] }[] } };
    const groups = state.optimizer.groups;
    const names = groups.flatMap((g) => g.params);
    const scales = layerDecayScales("vit", names, 0.7);
    const headLr = groups.find((g) => g.params.includes("head.weight"))!.lr;
    for (const g of groups) for (const n of g.params) close(g.lr, headLr * scales.get(n)!, n);
    close(groups.find((g) => g.params.includes("cls_token"))!.lrScale, 0.7 ** (layerIds("vit", names).numLayers - 1), "cls_token");
  } finally {
    cleanup();
  }
});
