// bench/cost's worker at tiny size: two methods, train and test, each in a fresh process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { catalogOf } from "../../src/models/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { costFigure, costTable, measureCost, measureCostInProcess, standInFapft } from "../../src/robust/index.js";

const vit = { imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 3, numHeads: 2, numClasses: 10 };

test("measureCost: full and LoRA, train and test, one fresh process each", { timeout: 120_000 }, () => {
  const report = measureCost({ vit, batch: 4, warmup: 1, reps: 3, precision: "fp32", methods: ["full", "lora"] });
  assert.deepEqual(report.rows.map((r) => r.method), ["full", "lora"]);
  const [full, lora] = report.rows;
  assert.equal(full.trainable, full.total);
  assert.ok(lora.trainable < full.trainable && lora.total > full.total, "LoRA trains its low-rank factors and the head");
  for (const r of report.rows) {
    for (const s of [r.train, r.test]) {
      assert.ok(s.medianMs > 0 && s.minMs <= s.medianMs && s.medianMs <= s.maxMs, `${r.method} ${s.mode} latency`);
      assert.equal(s.clock, "cpu");
      assert.equal(s.latencyMs, s.cpuMedianMs);
      // a model this small may fit in memory the allocator already holds, so RSS need not grow
      assert.ok(s.peakRssMiB >= s.startRssMiB && s.memoryMiB >= 0, `${r.method} ${s.mode} memory`);
      assert.ok(s.tensorMiB > 0);
    }
    assert.equal(r.test.tensorParts.grads, 0);
    assert.equal(r.test.tensorParts.optimizer, 0);
  }
  // AdamW keeps two moments per trainable float32 parameter; full trains all of them
  assert.ok(Math.abs(full.train.tensorParts.optimizer - (2 * full.trainable * 4) / 2 ** 20) < 1e-9);
  assert.ok(Math.abs(full.train.tensorParts.grads - (full.trainable * 4) / 2 ** 20) < 1e-9);
  assert.equal(lora.test.testModel, "merged");
  assert.equal(full.test.testModel, "plain");
  assert.equal(full.ratios!.trainLatency, 1);
  // merged LoRA is the plain model again: same weights bytes at test time
  assert.equal(lora.test.tensorParts.weights, full.test.tensorParts.weights);
  const panels = costFigure(report);
  assert.deepEqual(panels.map((p) => p.id), ["a", "b", "c", "d"]);
  assert.equal(panels[0].bars[1].value, lora.train.latencyMs);
  assert.equal(costTable(report).split("\n").length, 4);
});

test("FAPFT stand-in: Table 7's 4 of 12 scaled to depth, evenly spread; measured in process", () => {
  const model = new VisionTransformer({ ...vit, depth: 6 });
  const s = standInFapft(catalogOf(model));
  assert.deepEqual(s.units, ["blocks.1.attn", "blocks.1.ffn", "blocks.4.attn", "blocks.4.ffn"]);
  assert.ok(s.trainable.includes("head.weight"));
  model.dispose();
  const sample = measureCostInProcess("fapft", "train", { vit: { ...vit, depth: 6 }, batch: 2, warmup: 0, reps: 1, precision: "fp32" });
  assert.deepEqual(sample.fapftUnits, s.units);
  assert.equal(sample.trainable, s.count);
});
