// An epoch is kept only when it is good: finite weights and a finite validation loss. A NaN
// validation loss stops the run before that epoch's checkpoint or best weights are written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad, PftError } from "../../src/index.js";
import { readSafetensors } from "../../src/nn/index.js";
import { train, trainConfig, type BatchSource } from "../../src/train/index.js";
import { assertGoodEpoch } from "../../src/train/guard.js";
import { tempDir } from "../helpers/reference.js";
import { quiet, synthetic, tiny } from "./synthetic.js";

/** A validation source whose `poisonCall`-th pass (1-based) has NaN images. */
function poisonedVal(poisonCall: number): BatchSource {
  const clean = synthetic(32, 2);
  let calls = 0;
  return {
    stepsPerEpoch: clean.stepsPerEpoch,
    *batches(epoch: number) {
      calls++;
      for (const b of clean.batches(epoch)) {
        if (calls === poisonCall) {
          const nan = noGrad(() => b.x.mul(Number.NaN).keep());
          b.x.dispose();
          yield { x: nan, y: b.y };
        } else yield b;
      }
    },
  };
}

test("a NaN validation loss stops the run; the kept checkpoint and best weights are the last good epoch's", () => {
  const d = tempDir();
  try {
    assert.throws(
      () => train({ model: tiny(), trainable: "all", train: synthetic(48, 6), val: poisonedVal(2), config: trainConfig({ epochs: 3, batchSize: 16, precision: "fp32" }), outDir: d.dir, progress: quiet }),
      (e: unknown) => e instanceof PftError && e.code === "numeric" && /^validation loss is NaN at epoch 2: stopping; the last good checkpoint is kept in /.test(e.message),
    );
    assert.equal(JSON.parse(readFileSync(join(d.dir, "latest.json"), "utf8")).epoch, 1);
    const lines = readFileSync(join(d.dir, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).epoch), [1], "no metrics line for the bad epoch");
    // Both files read with the default (finite-only) reader.
    for (const f of ["best.safetensors", "ckpt-000001/model.safetensors"]) readSafetensors(join(d.dir, f)).tensors.forEach((t) => t.dispose());
    assert.ok(!existsSync(join(d.dir, "model.safetensors")), "no final weights from a stopped run");
  } finally {
    d.cleanup();
  }
});

test("assertGoodEpoch refuses a non-finite weight by name, and passes finite weights whose sum overflows", () => {
  const model = tiny();
  assert.doesNotThrow(() => assertGoodEpoch(model, { acc: 0.5, loss: 1, n: 4 } as never, 1, ""));
  noGrad(() => model.getParameter("head.bias").value.fill_(3e38)); // finite, the sum overflows to Inf
  assert.doesNotThrow(() => assertGoodEpoch(model, null, 1, ""));
  noGrad(() => model.getParameter("blocks.0.norm1.weight").value.fill_(Number.POSITIVE_INFINITY));
  assert.throws(() => assertGoodEpoch(model, null, 3, "; kept"), (e: unknown) => e instanceof PftError && e.code === "numeric" && e.message === "weight 'blocks.0.norm1.weight' is not finite after epoch 3: stopping; kept");
  assert.throws(() => assertGoodEpoch(tiny(), { acc: 0.1, loss: NaN, n: 4 } as never, 2, ""), (e: unknown) => e instanceof PftError && e.message === "validation loss is NaN at epoch 2: stopping");
});
