// pft soup from the built CLI: a greedy soup evaluated on the recorded dataset's held-out split,
// a uniform soup without evaluation, and one-line errors that write nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor, manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { createModel } from "../../src/models/index.js";
import type { SoupReport } from "../../src/soups/index.js";
import { tempDir } from "../helpers/reference.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const pft = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Run directories of vit_micro_patch4_28 "fine-tuned" on digits (seeded perturbations; the FFN units only). */
function runs(dir: string, n: number): string[] {
  manualSeed(0);
  const model = createModel("vit_micro_patch4_28");
  const base = new Map([...model.stateDict()].map(([k, v]) => [k, v.clone().keep()]));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const run = join(dir, `run${i}`);
    mkdirSync(run);
    noGrad(() => scope(() => {
      for (const [k, v] of model.stateDict()) {
        v.copy_(base.get(k)!);
        if (/\.(norm2|mlp)\.|^head\./.test(k)) v.add_(Tensor.randn(v.shape).mul(0.02 * (i + 1)));
      }
    }));
    writeSafetensors(join(run, "model.safetensors"), model.stateDict(), { format: "pt", producer: "pft", model: "vit_micro_patch4_28", dataset: "digits", val: "0.1" });
    writeFileSync(join(run, "run.json"), JSON.stringify({ model: "vit_micro_patch4_28", dataset: "digits", seed: 0, val: 0.1, strategy: "ffn", trainableParams: 1_000_000 + i }));
    out.push(run);
  }
  base.forEach((t) => t.dispose());
  model.dispose();
  return out;
}

test("pft soup --greedy: evaluates on the runs' held-out split and the test set, writes weights and report", () => {
  const { dir, cleanup } = tempDir();
  try {
    const [a, b] = runs(dir, 2);
    const out = join(dir, "soup.safetensors");
    // --val 20: a held-out count instead of the recorded fraction keeps the test quick (the test set is 359 images)
    const r = pft("soup", "--greedy", a, b, "--out", out, "--val", "20", "--json", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SoupReport;
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "soup.json"), "utf8")), report);
    assert.equal(report.method, "greedy");
    assert.deepEqual(report.val, { data: "digits", val: 20, seed: 0, trainPerClass: null, heldOutFromAll: false });
    assert.equal(report.ingredients.length, 2);
    for (const i of report.ingredients) assert.ok(i.val!.n === 20 && i.test!.n === 359, JSON.stringify(i));
    assert.equal(report.greedy!.steps.length, 1);
    assert.equal(report.soup.members[0], report.greedy!.order[0], "starts from the best ingredient");
    assert.equal(report.soup.members.length, 1 + report.greedy!.steps.filter((s) => s.kept).length);
    assert.ok(report.tensors.differing.every((k) => /\.(norm2|mlp)\.|^head\./.test(k)), "only the trained units differ");
    assert.ok(report.tensors.shared > 0);
    assert.ok(existsSync(out));
  } finally {
    cleanup();
  }
});

test("pft soup --uniform --no-eval prints a summary; usage errors are one line and write nothing", () => {
  const { dir, cleanup } = tempDir();
  try {
    const [a, b] = runs(dir, 2);
    const out = join(dir, "u.safetensors");
    const r = pft("soup", "--uniform", a, b, "--out", out, "--no-eval", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^uniform soup of 2 of 2 checkpoints -> /);
    assert.match(r.stdout, /parameters as Table 3 counts them \(the sum of the ingredients' trained parameters\): 2,000,001 \(2\.0M\)$/m);
    const fails = (args: string[], code: number, re: RegExp) => {
      const f = pft(...args);
      assert.equal(f.code, code, f.stderr);
      assert.equal(f.stderr.trimEnd().split("\n").length, 1, f.stderr);
      assert.match(f.stderr, re);
    };
    fails(["soup", a, b, "--out", join(dir, "x.safetensors")], 2, /exactly one of --uniform, --greedy or --method/);
    fails(["soup", "--uniform", a, "--out", join(dir, "x.safetensors")], 2, /at least two checkpoints/);
    fails(["soup", "--greedy", a, b, "--out", join(dir, "x.safetensors"), "--no-eval"], 2, /cannot skip evaluation/);
    fails(["soup", "--uniform", a, join(dir, "nope"), "--out", join(dir, "x.safetensors")], 1, /nope: no such file or directory/);
    assert.ok(!existsSync(join(dir, "x.safetensors")) && !existsSync(join(dir, "x.json")));
  } finally {
    cleanup();
  }
});
