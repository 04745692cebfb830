// pft soup --method over deltas from the base, from the built CLI: the base taken from what the
// runs recorded, an evaluated model-stock soup beside its logit ensemble, and one-line errors
// (mismatched bases, bad --density/--lambda/--alpha) that exit non-zero and write nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync, readFileSync, readdirSync } from "node:fs";
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

const MD = { format: "pt", producer: "pft", model: "vit_micro_patch4_28", dataset: "digits", val: "0.1" };

/** A "pretrained" vit_micro_patch4_28 (seeded) and run directories fine-tuned from it (its FFN units and head only), recording it as `from`. */
function setup(dir: string, n: number, seed = 0): { base: string; runs: string[] } {
  manualSeed(seed);
  const model = createModel("vit_micro_patch4_28");
  const base = join(dir, `pre${seed}.safetensors`);
  writeSafetensors(base, model.stateDict(), MD);
  const init = new Map([...model.stateDict()].map(([k, v]) => [k, v.clone().keep()]));
  const runs: string[] = [];
  for (let i = 0; i < n; i++) {
    const run = join(dir, `run${seed}-${i}`);
    mkdirSync(run);
    noGrad(() => scope(() => {
      for (const [k, v] of model.stateDict()) {
        v.copy_(init.get(k)!);
        if (/\.(norm2|mlp)\.|^head\./.test(k)) v.add_(Tensor.randn(v.shape).mul(0.02 * (i + 1)));
      }
    }));
    writeSafetensors(join(run, "model.safetensors"), model.stateDict(), MD);
    writeFileSync(join(run, "run.json"), JSON.stringify({ model: "vit_micro_patch4_28", dataset: "digits", from: base, seed: 0, val: 0.1, strategy: "ffn", trainableParams: 1000 + i }));
    runs.push(run);
  }
  init.forEach((t) => t.dispose());
  model.dispose();
  return { base, runs };
}

test("pft soup --method ties takes the base the runs recorded; model-stock is evaluated beside the logit ensemble", () => {
  const { dir, cleanup } = tempDir();
  try {
    const { base, runs } = setup(dir, 2);
    const out = join(dir, "ties.safetensors");
    const r = pft("soup", "--method", "ties", "--density", "0.5", ...runs, "--out", out, "--no-eval", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ties soup \(density 0\.5\) of 2 of 2 checkpoints -> /);
    assert.match(r.stdout, new RegExp(`^base: ${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(as the runs recorded\\); descent: recorded, recorded$`, "m"));
    assert.match(r.stdout, /tensors: \d+ of \d+ merged .*; \d+ as in the base in every checkpoint/);
    const report = JSON.parse(readFileSync(join(dir, "ties.json"), "utf8")) as SoupReport;
    assert.deepEqual(report.spec, { method: "ties", density: 0.5 });
    assert.ok(report.tensors.differing.every((k) => /\.(norm2|mlp)\.|^head\./.test(k)), "only what the runs tuned is merged");

    const ms = join(dir, "ms.safetensors");
    const e = pft("soup", "--method", "model-stock", ...runs, "--base", base, "--out", ms, "--val", "20", "--json", "--quiet");
    assert.equal(e.code, 0, e.stderr);
    const rep = JSON.parse(e.stdout) as SoupReport;
    assert.equal(rep.soup.val!.n, 20);
    assert.equal(rep.soup.test!.n, 359);
    assert.ok(rep.ensemble && rep.ensemble.val!.n === 20 && rep.ensemble.test!.n === 359, JSON.stringify(rep.ensemble));
    assert.ok(Object.values(rep.merge!.ratios).every((t) => t >= 0 && t <= 1));
    assert.ok(Object.keys(rep.merge!.ratios).length > 0);
  } finally {
    cleanup();
  }
});

test("pft soup --method errors: mismatched bases, bad or misplaced --density/--lambda/--alpha; one line, non-zero exit, no file left", () => {
  const { dir, cleanup } = tempDir();
  try {
    const { runs } = setup(dir, 2, 0);
    const other = setup(dir, 1, 1);
    const x = join(dir, "x.safetensors");
    const fails = (args: string[], code: number, re: RegExp) => {
      const f = pft("soup", ...args, "--out", x, "--no-eval", "--quiet");
      assert.equal(f.code, code, f.stderr);
      assert.equal(f.stderr.trimEnd().split("\n").length, 1, f.stderr);
      assert.match(f.stderr, re);
      assert.ok(!existsSync(x) && !existsSync(join(dir, "x.json")), `${args.join(" ")} left a file`);
      assert.ok(!readdirSync(dir).some((f) => f.includes(".tmp")), "no temporary file left");
    };
    fails(["--method", "changed-mean", ...runs, "--base", other.base], 1, /the ingredients do not share the base: .*run0-0 was fine-tuned from .*pre0\.safetensors \(its run\.json\), not from .*pre1\.safetensors/);
    fails(["--method", "changed-mean", runs[0], other.runs[0]], 2, /pass them with --base/);
    fails(["--method", "changed-mean", runs[0], other.runs[0], "--base", other.base], 1, /run0-0 was fine-tuned from/);
    fails(["--method", "ties", ...runs], 2, /the ties soup needs --density/);
    fails(["--method", "ties", "--density", "0", ...runs], 2, /--density must be a fraction in \(0, 1\], got 0/);
    fails(["--method", "ties", "--density", "1.5", ...runs], 2, /--density must be a fraction in \(0, 1\], got 1\.5/);
    fails(["--method", "task-arithmetic", "--lambda", "abc", ...runs], 2, /option --lambda needs a number, got 'abc'/);
    fails(["--method", "task-arithmetic", ...runs], 2, /the task-arithmetic soup needs --lambda/);
    fails(["--method", "wise-ft", "--alpha", "1.2", runs[0]], 2, /--alpha must be in \[0, 1\], got 1\.2/);
    fails(["--uniform", "--alpha", "0.5", ...runs], 2, /--alpha is for wise-ft, not uniform/);
    fails(["--method", "soupy", ...runs], 2, /unknown soup method 'soupy'/);
    fails(["--method", "model-stock", runs[0]], 2, /a model-stock soup needs at least two checkpoints/);
    fails(["--uniform", "--method", "ties", ...runs], 2, /exactly one of --uniform, --greedy or --method/);
  } finally {
    cleanup();
  }
});
