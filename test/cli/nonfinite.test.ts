// A checkpoint holding one NaN (in pos_embed, outside every residual unit) is refused by every
// command that reads weights: one line naming the file and the tensor, exit 1, nothing written;
// eval and angles read it with --allow-nonfinite.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { manualSeed, scope, Tensor } from "../../src/engine/index.js";
import { createModel } from "../../src/models/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { tempDir } from "../helpers/reference.js";

const CLI = resolve(new URL("../../src/cli/main.js", import.meta.url).pathname);
const { dir, cleanup } = tempDir("pft-nonfinite-");
after(cleanup);

function pft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** pre.safetensors (a fresh micro ViT) and nan.safetensors (the same with pos_embed[0] = NaN), as pft records them. */
function writeCheckpoints(): void {
  manualSeed(0);
  const model = createModel("vit_micro_patch4_28", { numClasses: 10 });
  const meta = { format: "pt", producer: "pft", model: "vit_micro_patch4_28", dataset: "digits", num_classes: "10" };
  scope(() => {
    const sd = model.stateDict();
    writeSafetensors(join(dir, "pre.safetensors"), sd, meta);
    const pos = sd.get("pos_embed")!;
    const values = pos.data() as Float32Array;
    values[0] = NaN;
    sd.set("pos_embed", Tensor.fromBytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), pos.shape, "float32"));
    writeSafetensors(join(dir, "nan.safetensors"), sd, meta);
  });
  model.dispose();
}
writeCheckpoints();

const MESSAGE = /^pft: nan\.safetensors: tensor 'pos_embed' holds NaN \(1 of 4,800 values\)$/;

function assertRefused(args: string[]): void {
  const before = readdirSync(dir).sort();
  const r = pft(args);
  assert.equal(r.status, 1, `${args[0]}: exit 1: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${args[0]}: one line: ${r.stderr}`);
  assert.match(lines[0], MESSAGE, args[0]);
  assert.equal(r.stdout, "", `${args[0]}: nothing printed`);
  assert.deepEqual(readdirSync(dir).sort(), before, `${args[0]}: nothing written`);
}

test("eval, angles, plan, soup and finetune refuse a NaN in pos_embed, naming file and tensor, writing nothing", () => {
  assertRefused(["eval", "--ckpt", "nan.safetensors"]);
  assertRefused(["angles", "pre.safetensors", "nan.safetensors"]);
  assertRefused(["plan", "pre.safetensors", "nan.safetensors", "--largest", "--topk", "1", "--out", "plan.json"]);
  assertRefused(["soup", "--uniform", "pre.safetensors", "nan.safetensors", "--out", "soup.safetensors", "--no-eval"]);
  assertRefused(["soup", "--uniform", "nan.safetensors", "pre.safetensors", "--out", "soup.safetensors", "--data", "digits", "--quiet"]);
  // Refused before the dataset is looked at: a dataset that does not exist is not the error.
  assertRefused(["finetune", "--from", "nan.safetensors", "--data", "folder:no-such-dir", "--steps", "1", "--out", "ft", "--quiet"]);
});

test("--allow-nonfinite: eval reports the NaN loss, angles reads the file (forensics)", () => {
  const e = pft(["eval", "--ckpt", "nan.safetensors", "--allow-nonfinite", "--json"]);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).loss, null, "JSON has no NaN: the loss is null");
  const a = pft(["angles", "pre.safetensors", "nan.safetensors", "--allow-nonfinite", "--json"]);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).units.length, 12);
  // Only those two commands have the flag.
  for (const cmd of ["finetune", "plan", "soup"]) {
    const r = pft([cmd, "--allow-nonfinite"]);
    assert.equal(r.status, 2, cmd);
    assert.match(r.stderr, /^pft: unknown option --allow-nonfinite$/m, cmd);
  }
});
