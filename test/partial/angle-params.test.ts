// `--angle-params weights|all` (src/partial/angles.ts): the angle over a unit's weight matrices
// only leaves norms and biases out; "all" (the default, Eq. 2) keeps them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { VisionTransformer } from "../../src/models/index.js";
import { computeAngles, isWeightMatrix, parseAngleParams, vectorAngle, toDegrees } from "../../src/partial/index.js";
import { PftError } from "../../src/errors.js";
import { tempDir } from "../helpers/reference.js";
import { writePair } from "./synthetic.js";

const tiny = { imageSize: 8, patchSize: 4, embedDim: 16, depth: 4, numHeads: 2, numClasses: 3 };
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("weight matrices are the >= 2-d `weight`s: Linear and conv kernels, not norms, biases or tokens", () => {
  assert.ok(isWeightMatrix("blocks.0.attn.qkv.weight", [48, 16]));
  assert.ok(isWeightMatrix("patch_embed.proj.weight", [16, 1, 4, 4]));
  assert.ok(!isWeightMatrix("blocks.0.norm1.weight", [16]));
  assert.ok(!isWeightMatrix("blocks.0.attn.qkv.bias", [48]));
  assert.ok(!isWeightMatrix("layers.0.blocks.0.attn.relative_position_bias_table", [49, 3]));
  assert.equal(parseAngleParams("Weights"), "weights");
  assert.throws(() => parseAngleParams("matrices"), (e: unknown) => e instanceof PftError && /--angle-params takes all or weights/.test(e.message));
});

test("norms and biases moved alone: 'all' sees an angle, 'weights' sees none; with matrices moved too, 'weights' is their angle", () => {
  const { dir, cleanup } = tempDir("pft-angle-params-");
  try {
    // 1. Only the 1-d parameters change (a LayerNorm gain and bias shift, as fine-tuning moves them).
    const onlyNorms = writePair(dir, new VisionTransformer(tiny), () => 0, {
      prefix: "a-",
      edit: (ft) => {
        for (const [k, v] of ft) if (v.length > 0 && !k.endsWith("weight") || /norm\d?\.weight$/.test(k)) ft.set(k, v.map((x, i) => x * 1.5 + 0.01 * (i % 3)));
      },
    });
    const all = computeAngles(onlyNorms.pre, onlyNorms.ft);
    const weights = computeAngles(onlyNorms.pre, onlyNorms.ft, { params: "weights" });
    assert.equal(weights.angleParams, "weights");
    for (const [i, u] of all.units.entries()) {
      assert.ok(u.angle > 0.01, `${u.name}: 'all' angle ${u.angle}`);
      assert.equal(weights.units[i].angle, 0, `${u.name}: 'weights' angle`);
      const matrices = onlyNorms.catalog.units[i].params.filter((p) => onlyNorms.preValues.get(p)!.length > 0 && /(qkv|proj|fc1|fc2)\.weight$/.test(p));
      assert.equal(weights.units[i].params, matrices.reduce((s, p) => s + onlyNorms.preValues.get(p)!.length, 0), `${u.name}: counts the matrices only`);
      assert.ok(weights.units[i].params < u.params);
    }
    // 2. Every unit rotated by 5 degrees overall: 'weights' is the float64 angle of the matrices' own vectors.
    const rotated = writePair(dir, new VisionTransformer(tiny), () => 5, { prefix: "b-" });
    const w = computeAngles(rotated.pre, rotated.ft, { params: "weights" });
    for (const [i, u] of rotated.catalog.units.entries()) {
      const ms = u.params.filter((p) => /(qkv|proj|fc1|fc2)\.weight$/.test(p));
      const want = toDegrees(vectorAngle(ms.map((p) => rotated.preValues.get(p)!), ms.map((p) => rotated.ftValues.get(p)!)));
      assert.ok(Math.abs(w.units[i].angle - want) < 1e-9 * Math.max(1, want), `${u.name}: ${w.units[i].angle} vs ${want}`);
      assert.ok(Math.abs(computeAngles(rotated.pre, rotated.ft).units[i].angle - 5) < 1e-6, "'all' is the constructed 5 degrees");
    }
    // 3. The CLI: pft angles and pft plan take the option; a bad value is a one-line error.
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
    const j = run("angles", rotated.pre, rotated.ft, "--angle-params", "weights", "--json");
    assert.equal(j.status, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { angleParams: string; units: { angle: number }[] };
    assert.equal(out.angleParams, "weights");
    assert.deepEqual(out.units.map((u) => u.angle), w.units.map((u) => u.angle));
    const bad = run("angles", rotated.pre, rotated.ft, "--angle-params", "norms");
    assert.equal(bad.status, 2, "a usage error");
    assert.match(bad.stderr, /^pft: --angle-params takes all or weights, got 'norms'/);
    const plan = run("plan", rotated.pre, rotated.ft, "--largest", "--topk", "1", "--angle-params", "weights", "--out", `${dir}/plan.json`, "--json");
    assert.equal(plan.status, 0, plan.stderr);
    assert.deepEqual(Object.values((JSON.parse(plan.stdout) as { angles: Record<string, number> }).angles), w.units.map((u) => u.angle));
    const manual = run("plan", "--strategy", "attn", "--model", "vit_micro_patch4_28", "--angle-params", "weights", "--out", `${dir}/p2.json`);
    assert.equal(manual.status, 1);
    assert.match(manual.stderr, /--angle-params is for fapft/);
  } finally {
    cleanup();
  }
});
