// `--steps` through the built CLI: its errors are one line and a non-zero exit before anything is
// written, --help lists it, and a tiny steps run on the offline digits records its budget.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers/reference.js";

const CLI = resolve(new URL("../../src/cli/main.js", import.meta.url).pathname);
const { dir, cleanup } = tempDir("pft-steps-cli-");
after(cleanup);

function pft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const pretrainArgs = (out: string) => ["pretrain", "--model", "vit_micro_patch4_28", "--data", "digits", "--train-per-class", "8", "--batch-size", "16", "--out", join(dir, out), "--quiet"];

test("--steps 0, a negative --steps, and --steps with --epochs are one-line usage errors (exit 2)", () => {
  const cases: [string, string[], RegExp][] = [
    ["zero", [...pretrainArgs("zero"), "--steps", "0"], /^pft: --steps needs a positive number of optimizer steps, got 0$/],
    ["negative", [...pretrainArgs("negative"), "--steps", "-3"], /^pft: --steps needs a positive number of optimizer steps, got -3$/],
    ["both", [...pretrainArgs("both"), "--steps", "5", "--epochs", "2"], /--steps and --epochs exclude each other: give one$/],
    ["ft-both", ["finetune", "--from", join(dir, "none"), "--data", "digits", "--epochs", "2", "--steps", "5", "--out", join(dir, "ft-both"), "--quiet"], /--steps and --epochs exclude each other: give one$/],
    ["warmup-both", [...pretrainArgs("warmup-both"), "--steps", "5", "--warmup-epochs", "1", "--warmup-steps", "2"], /--warmup-steps and --warmup-epochs exclude each other: give one$/],
  ];
  for (const [out, args, pattern] of cases) {
    const r = pft(args);
    assert.equal(r.status, 2, `${out}: a usage error exits 2: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${out}: one line: ${r.stderr}`);
    assert.match(lines[0], pattern);
    assert.ok(!existsSync(join(dir, out)), `${out}: nothing written`);
  }
});

test("--help of pretrain and finetune lists --steps and --warmup-steps", () => {
  for (const cmd of ["pretrain", "finetune"]) {
    const r = pft([cmd, "--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--steps <integer>\s+train exactly this many optimizer steps instead of --epochs/);
    assert.match(r.stdout, /--warmup-steps <integer>/);
    assert.match(r.stdout, /--epochs <integer>\s+epochs \(default 10\)/);
  }
});

test("pft pretrain --steps 7 trains 7 steps (5 per epoch: the second epoch stops after 2) and says so in its outputs", () => {
  const out = join(dir, "seven");
  const r = pft([...pretrainArgs("seven"), "--steps", "7", "--warmup-steps", "2"]);
  assert.equal(r.status, 0, r.stderr);
  const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
  const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8"));
  const budget = { unit: "steps", steps: 7, epochs: 2, stepsPerEpoch: 5, warmupSteps: 2 };
  assert.equal(run.config.steps, 7);
  assert.equal(run.config.warmupSteps, 2);
  assert.deepEqual(run.budget, budget);
  assert.deepEqual(result.budget, budget);
  const lines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.epoch, l.step, l.epochSteps, l.budget]), [[1, 5, 5, "steps"], [2, 7, 2, "steps"]]);
});
