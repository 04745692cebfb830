// The built CLI (node dist/src/cli/main.js): params, angles and plan, their output formats and
// their failures (one line on stderr, non-zero exit, no file written).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, truncateSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { VisionTransformer } from "../../src/models/index.js";
import { tempDir } from "../helpers/reference.js";
import { writePair } from "./synthetic.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function pft(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertFails(r: ReturnType<typeof pft>, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(r.stderr, re);
}

const tiny = { imageSize: 8, patchSize: 4, embedDim: 16, depth: 4, numHeads: 2, numClasses: 3 };

// AS-MLP-B builds in about a second (ViT-B/16 takes several).
test("pft params --json: Table 1's AS-MLP-B FAPFT [2,2,6,2] on CIFAR-100 (46.21M) as exact integers", () => {
  const r = pft("params", "--model", "asmlp_base", "--num-classes", "100", "--strategy", "fapft", "--topk", "2,2,6,2", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { model: "asmlp_base", strategy: "fapft", trainable: 46_208_868, total: 86_830_308 });
});

// (Each run loads libtorch, ~1 s: the library tests cover the other failures.)
test("pft params: errors exit non-zero with one line (unknown strategy, impossible top-k, bad usage)", () => {
  assertFails(pft("params", "--model", "vit_base_patch16_224", "--strategy", "Z"), 1, /^pft: unknown strategy 'Z'/);
  assertFails(pft("params", "--model", "vit_micro_patch4_28", "--strategy", "fapft", "--topk", "7"), 1, /top-k for stage 0 is 7 but group 'attn' holds only 6 units/);
  assertFails(pft("params", "--strategy", "attn"), 2, /needs --model/);
});

test("pft angles --json and the default table on a synthetic pair", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), (_u, i) => [0.001, 0.01, 0.1, 1, 5, 10, 45, 90][i]);
    const r = pft("angles", pair.pre, pair.ft, "--json");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { angleParams: string; units: { name: string; kind: string; stage: number; index: number; params: number; angle: number }[] };
    assert.deepEqual(Object.keys(out), ["angleParams", "units"]);
    assert.equal(out.units.length, 8);
    assert.deepEqual(Object.keys(out.units[0]), ["name", "kind", "stage", "index", "params", "angle"]);
    assert.deepEqual(out.units.slice(0, 2).map(({ name, kind, stage, index }) => ({ name, kind, stage, index })), [
      { name: "blocks.0.attn", kind: "attn", stage: 0, index: 0 },
      { name: "blocks.0.ffn", kind: "ffn", stage: 0, index: 0 },
    ]);
    for (const u of out.units) {
      const want = pair.expected.get(u.name)!;
      assert.ok(Math.abs(u.angle - want) / want < 1e-9, `${u.name}: ${u.angle} vs ${want}`);
      assert.equal(u.params, pair.catalog.units.find((c) => c.name === u.name)!.numel);
    }
    const table = pft("angles", pair.pre, pair.ft);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /unit\s+kind\s+stage\s+block\s+params\s+angle\s+rank/);
    assert.match(table.stdout, /blocks\.3\.ffn\s+ffn\s+0\s+3\s+[\d,]+\s+90\s+1\/4 in ffn/);
  } finally {
    cleanup();
  }
});

test("pft angles: a truncated checkpoint fails with one line", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), () => 1);
    truncateSync(pair.ft, statSync(pair.ft).size - 64);
    assertFails(pft("angles", pair.pre, pair.ft), 1, /^pft: .*ft\.safetensors.*truncated/);
  } finally {
    cleanup();
  }
});

test("pft plan: FAPFT from two checkpoints writes the plan and prints the PyTorch snippet; a failing plan writes nothing", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), (_u, i) => 1 + i);
    const out = join(dir, "plan.json");
    const r = pft("plan", pair.pre, pair.ft, "--difficulty", "easy", "--topk", "1", "--out", out, "--emit", "torch");
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(readFileSync(out, "utf8"));
    assert.deepEqual([plan.strategy, plan.direction, plan.topk, plan.units], ["fapft", "smallest", [1], ["blocks.0.attn", "blocks.0.ffn"]]);
    assert.match(r.stdout, /^wrote .*plan\.json: fapft, smallest angles, top-k \[1\]: 2 units/);
    assert.match(r.stdout, /model\.requires_grad_\(False\)\n.*for name in plan\["trainable"\]:\n\s+params\[name\]\.requires_grad_\(True\)/s);
    // A manual strategy from a checkpoint's names and shapes.
    const manual = join(dir, "manual.json");
    assert.equal(pft("plan", "--strategy", "E", "--checkpoint", pair.ft, "--out", manual).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(manual, "utf8")).units, ["blocks.2.attn", "blocks.3.attn"]);
    // Failures: nothing written.
    const bad = join(dir, "bad.json");
    assertFails(pft("plan", pair.pre, pair.ft, "--largest", "--topk", "5", "--out", bad), 1, /top-k for stage 0 is 5 but group 'attn' holds only 4 units/);
    assertFails(pft("plan", pair.pre, pair.ft, "--out", bad), 1, /fapft needs --difficulty/);
    assert.ok(!existsSync(bad));
  } finally {
    cleanup();
  }
});
