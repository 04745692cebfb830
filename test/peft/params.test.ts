// Trainable parameters of the baselines against Table 1's Params column: from the paper models'
// names and shapes (test/partial/fixtures, no model built), then on one real ViT-B/16 with every
// method applied in turn, and through `pft params --method`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createModel, VisionTransformer } from "../../src/models/index.js";
import { addedShapes, applyMethod, countMethodParams, methodSpec, type MethodName } from "../../src/peft/index.js";
import { readFixture, shapesWithClasses } from "../partial/shapes.js";

// Section 4.6: reduction factor 64 for the Adapter, 50 prompts for VPT-Deep.
const spec = (m: MethodName) => methodSpec(m);

// Table 1, ViT-B/16, Params (M): [CIFAR-100, ImageNet-1K].
const TABLE1_VIT: Record<Exclude<MethodName, "lora">, [number, number]> = {
  linear: [0.08, 0.77],
  adapter: [0.31, 1.0],
  vpt: [0.54, 1.23],
  ssf: [0.28, 0.97],
};

// The arithmetic (docs/architecture.md): head 768·K + K; adapter 12 · (768·12 + 12 + 12·768 + 768);
// VPT 12 · 50 · 768; SSF 2 · (768 + 12 · (768 + 2304 + 768 + 768 + 3072 + 768) + 768).
const head = (k: number) => 768 * k + k;
const EXACT: Record<Exclude<MethodName, "lora">, number> = {
  linear: 0,
  adapter: 12 * (768 * 12 + 12 + 12 * 768 + 768),
  vpt: 12 * 50 * 768,
  ssf: 2 * (768 + 12 * (768 + 2304 + 768 + 768 + 3072 + 768) + 768),
};

test("Table 1, ViT-B/16: Linear, Adapter, VPT-Deep and SSF trainable parameters on CIFAR-100 and ImageNet-1K", () => {
  const fixture = readFixture("vit_base_patch16_224");
  [100, 1000].forEach((classes, col) => {
    const shapes = shapesWithClasses(fixture, classes);
    for (const [method, row] of Object.entries(TABLE1_VIT) as [keyof typeof TABLE1_VIT, [number, number]][]) {
      const c = countMethodParams(shapes, spec(method));
      assert.equal(c.trainable, EXACT[method] + head(classes), `${method}, ${classes} classes`);
      assert.ok(Math.abs(c.trainable / 1e6 - row[col]) < 0.01, `${method}, ${classes} classes: ${c.trainable} vs Table 1's ${row[col]}M`);
      assert.equal(c.total - c.added, 85_798_656 + head(classes), "total = the plain model + the method");
    }
  });
  assert.deepEqual([307_444, 999_544, 537_700, 1_229_800, 282_724, 974_824].map((n) => (n / 1e6).toFixed(2)), ["0.31", "1.00", "0.54", "1.23", "0.28", "0.97"]);
});

test("the same placements give Table 1's Adapter counts for Swin-B, ConvNeXt-B and AS-MLP-B, SSF's for Swin-B, ConvNeXt-B and AS-MLP-B, and VPT-Deep's for Swin-B", () => {
  const cases: [string, MethodName, number, number][] = [
    ["swin_base_patch4_window7_224", "adapter", 100, 0.33],
    ["swin_base_patch4_window7_224", "adapter", 1000, 1.26],
    ["convnext_base", "adapter", 100, 0.45],
    ["convnext_base", "adapter", 1000, 1.37],
    ["asmlp_base", "adapter", 100, 0.33],
    ["swin_base_patch4_window7_224", "ssf", 100, 0.37],
    ["swin_base_patch4_window7_224", "ssf", 1000, 1.29],
    ["convnext_base", "ssf", 100, 0.36],
    ["convnext_base", "ssf", 1000, 1.28],
    ["asmlp_base", "ssf", 100, 0.37],
    ["swin_base_patch4_window7_224", "vpt", 100, 0.7],
    ["swin_base_patch4_window7_224", "vpt", 1000, 1.63],
  ];
  for (const [model, method, classes, table] of cases) {
    const { trainable } = countMethodParams(shapesWithClasses(readFixture(model), classes), spec(method));
    assert.ok(Math.abs(trainable / 1e6 - table) < 0.01, `${model} ${method} ${classes} classes: ${trainable} vs Table 1's ${table}M`);
  }
  // VPT-Deep on Swin-B: 50 prompts per block at each stage's width, 50 · (2·128 + 2·256 + 18·512 + 2·1024).
  for (const classes of [100, 1000]) {
    const c = countMethodParams(shapesWithClasses(readFixture("swin_base_patch4_window7_224"), classes), spec("vpt"));
    assert.equal(c.added, 50 * (2 * 128 + 2 * 256 + 18 * 512 + 2 * 1024));
    assert.equal(c.trainable, 601_600 + 1024 * classes + classes);
  }
  // SSF, the official sites (src/peft/ssf.ts): ConvNeXt-B 2 · (stem 256 + 7 · Σ depth·dim 18,048 +
  // downsampling 2,688); AS-MLP-B 2 · (patch embed 256 + 11 · 12,032 + merging norms 3,584 + final norm 1,024).
  assert.equal(countMethodParams(shapesWithClasses(readFixture("convnext_base"), 100), spec("ssf")).added, 2 * (256 + 7 * 18_048 + 2_688));
  assert.equal(countMethodParams(shapesWithClasses(readFixture("asmlp_base"), 100), spec("ssf")).added, 2 * (256 + 11 * 12_032 + 3_584 + 1_024));
  // Table 1 has no VPT-Deep entry for ConvNeXt and AS-MLP, whose blocks have no tokens to prompt.
  for (const model of ["convnext_base", "asmlp_base"]) assert.throws(() => countMethodParams(shapesWithClasses(readFixture(model), 100), spec("vpt")), /ViT and Swin only/);
});

test("LoRA: r · (in + out) per target", () => {
  const shapes = shapesWithClasses(readFixture("vit_base_patch16_224"), 100);
  const c = (targets: string, rank = 8) => countMethodParams(shapes, methodSpec("lora", { loraRank: rank, loraTargets: targets })).added;
  assert.equal(c("qkv"), 12 * 8 * (768 + 2304));
  assert.equal(c("qkv,proj,fc1,fc2", 4), 12 * 4 * (768 + 2304 + 768 + 768 + 768 + 3072 + 3072 + 768));
});

test("on a built ViT-B/16 (100 classes), each method's trainable parameters are exactly the shape-derived ones", () => {
  const model = createModel("vit_base_patch16_224", { numClasses: 100 }) as VisionTransformer;
  try {
    const shapes = new Map(model.namedParameters().map((n) => [n.name, n.param.shape]));
    for (const method of ["linear", "adapter", "vpt", "ssf", "lora"] as MethodName[]) {
      const s = spec(method);
      const peft = applyMethod(model, s);
      const expected = countMethodParams(shapes, s);
      assert.equal(peft.model.countParameters({ trainableOnly: true }), expected.trainable, method);
      assert.equal(peft.model.countParameters(), expected.total, method);
      assert.deepEqual(new Map(peft.added.map((n) => [n, peft.model.getParameter(n).shape])), addedShapes(shapes, s), method);
      if (method in EXACT) assert.equal(expected.trainable, EXACT[method as keyof typeof EXACT] + head(100), method);
      assert.equal(peft.remove(), model);
    }
  } finally {
    model.dispose();
  }
});

test("pft params --method: exact counts, --method linear is the strategy, option misuse is an error", () => {
  const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  const pft = (...args: string[]) => spawnSync(process.execPath, [CLI, "params", "--model", "vit_micro_patch4_28", ...args], { encoding: "utf8", timeout: 120_000 });
  const micro = createModel("vit_micro_patch4_28");
  const shapes = new Map(micro.namedParameters().map((n) => [n.name, n.param.shape]));
  micro.dispose();
  const vpt = pft("--method", "vpt", "--prompts", "7", "--json");
  assert.equal(vpt.status, 0, vpt.stderr);
  const want = countMethodParams(shapes, methodSpec("vpt", { prompts: 7 }));
  assert.deepEqual(JSON.parse(vpt.stdout), { model: "vit_micro_patch4_28", method: "vpt", options: { prompts: 7 }, trainable: want.trainable, total: want.total });
  const linear = pft("--method", "linear", "--json");
  assert.deepEqual(JSON.parse(linear.stdout), { model: "vit_micro_patch4_28", strategy: "linear", trainable: 96 * 10 + 10, total: want.total - want.added });
  const bad = pft("--method", "ssf", "--lora-rank", "4");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^pft: --lora-rank is for lora, not ssf/);
});
