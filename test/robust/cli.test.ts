// `pft eval --robustness --ood` through the built CLI, at toy size: an untrained vit_micro_patch4_28
// checkpoint, one MNIST test image per class under every corruption, OOD on the sklearn digits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { manualSeed } from "../../src/engine/index.js";
import { createModel } from "../../src/models/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { STANDARD_CORRUPTIONS, type RobustnessReport, type OodResult } from "../../src/robust/index.js";
import { tempDir } from "../helpers/reference.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("pft eval --robustness --ood: errors per corruption and severity, mCE, OOD accuracy", { timeout: 180_000 }, () => {
  const { dir, cleanup } = tempDir("pft-robust-");
  try {
    manualSeed(0);
    const model = createModel("vit_micro_patch4_28");
    const file = join(dir, "model.safetensors");
    writeSafetensors(file, model.stateDict(), { model: "vit_micro_patch4_28", dataset: "mnist" });
    model.dispose();
    // one engine thread: on a shared 2-core machine, two OpenMP threads wait on each other at every op of such tiny batches
    const env = { ...process.env, PFT_THREADS: "1" };
    const r = spawnSync(process.execPath, [CLI, "eval", "--ckpt", file, "--robustness", "--c-per-class", "1", "--ood", "digits", "--json"], { encoding: "utf8", timeout: 170_000, env });
    assert.equal(r.status, 0, r.stderr.split("\n").slice(-5).join("\n"));
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { model: string; robustness: RobustnessReport; ood: OodResult };
    assert.equal(out.model, "vit_micro_patch4_28");
    const rep = out.robustness;
    assert.equal(rep.n, 10);
    assert.deepEqual(rep.corruptions, STANDARD_CORRUPTIONS);
    const m = rep.models.vit_micro_patch4_28;
    for (const n of STANDARD_CORRUPTIONS) assert.equal(m.errors[n]!.length, 5, n);
    assert.ok(Number.isFinite(m.mce) && m.mce > 0);
    assert.equal(out.ood.dataset, "digits/test");
    assert.ok(out.ood.n > 300 && out.ood.acc >= 0 && out.ood.acc <= 1);
  } finally {
    cleanup();
  }
});
