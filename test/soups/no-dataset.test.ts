// pft soup on checkpoints that record no dataset: the one-line error names --data and, for a
// uniform soup (the only kind that can skip evaluation), --no-eval; a greedy soup is not told to skip it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/reference.js";
import { tinyWeights, perturbed, writeWeights } from "./fixtures.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const pft = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });

test("a soup of checkpoints without a recorded dataset: uniform points at --no-eval, greedy does not", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(0);
    const a = writeWeights(join(dir, "a.safetensors"), perturbed(base, 1));
    const b = writeWeights(join(dir, "b.safetensors"), perturbed(base, 2));
    const out = join(dir, "soup.safetensors");
    const uniform = pft("soup", "--uniform", a, b, "--out", out, "--model", "vit_micro_patch4_28");
    assert.equal(uniform.status, 1, uniform.stderr);
    const line = uniform.stderr.trim();
    assert.equal(line.split("\n").length, 1, line);
    assert.match(line, /does not record its dataset: pass --data \(or --no-eval to average without evaluating\)$/);
    const greedy = pft("soup", "--greedy", a, b, "--out", out, "--model", "vit_micro_patch4_28");
    assert.equal(greedy.status, 1);
    assert.match(greedy.stderr.trim(), /does not record its dataset: pass --data$/);
    assert.ok(!existsSync(out), "no soup written");
    const averaged = pft("soup", "--uniform", a, b, "--out", out, "--no-eval");
    assert.equal(averaged.status, 0, averaged.stderr);
    assert.ok(existsSync(out));
  } finally {
    cleanup();
  }
});
