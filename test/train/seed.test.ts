// A seed makes a run repeatable end to end: initialisation of a from-scratch model, of a
// re-initialised head and of a method's new parameters included, not only data order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../../src/engine/index.js";
import { runTraining, type RunOptions } from "../../src/train/index.js";
import { tempDir } from "../helpers/reference.js";

const weightsHash = (dir: string) => createHash("sha256").update(readFileSync(join(dir, "model.safetensors"))).digest("hex");

test("the same seed gives the same weights, from scratch and when fine-tuning with a method's new parameters", () => {
  const d = tempDir();
  try {
    // Disturb libtorch's global generator between runs: a run must not depend on its state.
    const run = (name: string, o: Partial<RunOptions>, seed: number) => {
      Tensor.randn([7]).dispose();
      runTraining({ data: "digits", trainPerClass: 4, val: 10, config: { epochs: 1, batchSize: 8, seed }, out: join(d.dir, name), log: () => {}, ...o });
      return weightsHash(join(d.dir, name));
    };
    const scratch = { model: "vit_micro_patch4_28" };
    const a = run("pre-a", scratch, 3);
    assert.equal(run("pre-b", scratch, 3), a, "pretraining from scratch twice with seed 3");
    assert.notEqual(run("pre-c", scratch, 4), a, "another seed gives other weights");

    // Fine-tuning the pretrained weights with LoRA: its A matrices are new, randomly drawn parameters.
    const lora: Partial<RunOptions> = { from: join(d.dir, "pre-a"), method: { method: "lora", rank: 2, alpha: 2, targets: ["qkv"] } };
    assert.equal(run("lora-a", lora, 5), run("lora-b", lora, 5), "LoRA fine-tune twice with seed 5");
  } finally {
    d.cleanup();
  }
});
