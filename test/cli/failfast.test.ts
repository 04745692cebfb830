// Values that cannot mean what was asked are refused before anything is loaded or written: one line
// quoting the value, a non-zero exit, the working directory unchanged.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { manualSeed, scope } from "../../src/engine/index.js";
import { createModel } from "../../src/models/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { tempDir } from "../helpers/reference.js";
import { writePng } from "../data/fixtures.js";

const CLI = resolve(new URL("../../src/cli/main.js", import.meta.url).pathname);
const { dir, cleanup } = tempDir("pft-failfast-");
after(cleanup);

function pft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertRefused(what: string, args: string[], status: number, message: RegExp): void {
  const before = listing();
  const r = pft(args);
  assert.equal(r.status, status, `${what}: exit ${status}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
  assert.match(lines[0], message, what);
  assert.deepEqual(listing(), before, `${what}: nothing written`);
}

function listing(): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

manualSeed(0);
{
  const m = createModel("vit_micro_patch4_28", { numClasses: 10 });
  scope(() => writeSafetensors(join(dir, "pre.safetensors"), m.stateDict(), { format: "pt", model: "vit_micro_patch4_28", dataset: "digits" }));
  m.dispose();
}
const pretrain = (...extra: string[]) => ["pretrain", "--model", "vit_micro_patch4_28", "--data", "digits", "--steps", "1", "--warmup-steps", "0", "--out", "run", "--quiet", ...extra];

test("training values: --val -0.1, huge --batch-size, --lr 1e39, --lr '', --drop-path 1.5 are usage errors quoting the value", () => {
  assertRefused("val", pretrain("--val", "-0.1"), 2, /^pft: --val takes a fraction in \[0, 1\) or a whole number of images, got -0\.1$/);
  assertRefused("val-frac", pretrain("--val", "1.5"), 2, /got 1\.5$/);
  assertRefused("batch", pretrain("--batch-size", "99999999999999999999"), 2, /^pft: --batch-size needs 1 to 1,048,576 images per step, got 100000000000000000000$/);
  assertRefused("batch0", pretrain("--batch-size", "0"), 2, /got 0$/);
  assertRefused("lr", pretrain("--lr", "1e39"), 2, /^pft: --lr 1e\+39 is beyond float32/);
  assertRefused("lr-empty", pretrain("--lr", ""), 2, /^pft: option --lr needs a number, got ''$/);
  assertRefused("lr-zero", pretrain("--lr", "0"), 2, /^pft: --lr needs a positive learning rate, got 0$/);
  assertRefused("drop-path", pretrain("--drop-path", "1.5"), 2, /^pft: --drop-path needs a rate in \[0, 1\), got 1\.5$/);
  assertRefused("ema", pretrain("--ema", "1"), 2, /^pft: --ema needs a value in \[0, 1\), got 1$/);
  assertRefused("finetune", ["finetune", "--from", "pre.safetensors", "--data", "digits", "--val", "-1", "--out", "ft", "--quiet"], 2, /--val takes a fraction/);
});

test("a one-class folder dataset is refused before training", () => {
  for (let i = 0; i < 5; i++) writePng(join(dir, "one", "cat", `${i}.png`), 8, 8, i);
  assertRefused("one-class", ["pretrain", "--model", "vit_micro_patch4_28", "--data", "folder:one", "--steps", "1", "--warmup-steps", "0", "--val", "0", "--out", "run", "--quiet"], 1, /^pft: folder:one: .*1 class.*: a classifier needs at least two classes$/);
});

test("plan: --topk 0 selects no unit; identical checkpoints (every angle 0) are refused instead of a tie-order plan", () => {
  assertRefused("topk0", ["plan", "pre.safetensors", "pre.safetensors", "--largest", "--topk", "0", "--out", "plan.json"], 1, /^pft: top-k \[0\] selects no unit/);
  assertRefused("identical", ["plan", "pre.safetensors", "pre.safetensors", "--largest", "--topk", "2", "--out", "plan.json"], 1, /^pft: every fine-tuned angle is 0: the two checkpoints hold the same unit weights/);
});

test("a safetensors file holding no tensors ('{}' header) is named in the error", () => {
  const header = Buffer.from("{}      ");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(join(dir, "empty.safetensors"), Buffer.concat([len, header]));
  assertRefused("angles", ["angles", "pre.safetensors", "empty.safetensors"], 1, /^pft: empty\.safetensors: holds no floating-point tensors/);
  assertRefused("plan-checkpoint", ["plan", "--strategy", "attn", "--checkpoint", "empty.safetensors", "--out", "plan.json"], 1, /^pft: empty\.safetensors: holds no floating-point tensors/);
});

test("soup --out X.safetensors does not overwrite an unrelated X.json", () => {
  mkdirSync(join(dir, "s"), { recursive: true });
  writeFileSync(join(dir, "s", "X.json"), '{"mine": true}\n');
  assertRefused("soup", ["soup", "--uniform", "pre.safetensors", "pre.safetensors", "--out", "s/X.safetensors", "--no-eval"], 1, /^pft: s\/X\.json exists and is not the report of an earlier soup of X\.safetensors/);
  assert.equal(readFileSync(join(dir, "s", "X.json"), "utf8"), '{"mine": true}\n');
  // A soup's own report is replaced on a rerun.
  const first = pft(["soup", "--uniform", "pre.safetensors", "pre.safetensors", "--out", "s/Z.safetensors", "--no-eval"]);
  assert.equal(first.status, 0, first.stderr);
  const again = pft(["soup", "--uniform", "pre.safetensors", "pre.safetensors", "--out", "s/Z.safetensors", "--no-eval"]);
  assert.equal(again.status, 0, again.stderr);
});
