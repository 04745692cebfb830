// The Table 3 study end to end at toy size: a tiny ViT on 8x8 digits, few images, one epoch.
// Two full fine-tunes (different lr and seed), two FAPFT runs (top-k 1 and 2), both soups
// evaluated on validation and test, and real run directories as ingredients.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { manualSeed } from "../../src/engine/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { registerModel, createModel, VisionTransformer, type ModelOverrides } from "../../src/models/index.js";
import { loadPlan } from "../../src/partial/index.js";
import { runSoupStudy, type SoupStudyResult } from "../../src/soups/index.js";
import { tempDir } from "../helpers/reference.js";

const MODEL = "vit_soup_test_8";
registerModel({
  name: MODEL,
  arch: "vit",
  description: "test-only ViT for 8x8 grayscale",
  create: (o: ModelOverrides) => new VisionTransformer({ imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, numClasses: o.numClasses ?? 10 }),
});

const quiet = { start() {}, tick() {}, end() {} };

test("runSoupStudy: N full fine-tunes vs N FAPFT runs, each run's accuracy and parameters, and both soups", { timeout: 60_000 }, () => {
  const { dir, cleanup } = tempDir();
  try {
    manualSeed(0);
    const pre = createModel(MODEL);
    const from = join(dir, "pretrained.safetensors");
    writeSafetensors(from, pre.stateDict(), { model: MODEL });
    pre.dispose();

    const t0 = Date.now();
    const r: SoupStudyResult = runSoupStudy({
      data: "digits",
      from,
      out: join(dir, "study"),
      fft: [{ lr: 1e-3, seed: 0 }, { lr: 3e-3, seed: 1 }],
      fapft: { topk: [1, 2], difficulty: "hard" },
      train: { epochs: 1, batchSize: 16, warmupEpochs: 0, precision: "fp32" },
      trainPerClass: 5,
      log: () => {},
      progress: quiet,
    });
    const seconds = (Date.now() - t0) / 1000;

    assert.deepEqual(r.runs.map((x) => [x.kind, x.lr, x.seed, x.topk]), [["fft", 1e-3, 0, null], ["fft", 3e-3, 1, null], ["fapft", 1e-3, 0, [1]], ["fapft", 1e-3, 0, [2]]]);
    const model = createModel(MODEL);
    const total = model.countParameters();
    model.dispose();
    for (const run of r.runs) {
      assert.ok(existsSync(join(run.out, "model.safetensors")) && existsSync(join(run.out, "result.json")), run.name);
      assert.ok(run.testAcc >= 0 && run.testAcc <= 1 && run.valAcc !== null);
      assert.equal(run.total, total);
    }
    // FAPFT top-k 1 on a 2-block ViT: one attention and one FFN unit, plus the head.
    const [f1, f2] = r.runs.filter((x) => x.kind === "fapft");
    const unit = { attn: 2 * 16 + 16 * 48 + 48 + 16 * 16 + 16, ffn: 2 * 16 + 16 * 64 + 64 + 64 * 16 + 16 };
    const head = 16 * 10 + 10;
    assert.equal(f1.trainable, unit.attn + unit.ffn + head);
    assert.equal(f2.trainable, 2 * (unit.attn + unit.ffn) + head);
    assert.equal(loadPlan(join(dir, "study", "plans", "fapft-1.json")).units.length, 2);
    assert.ok(r.runs.filter((x) => x.kind === "fft").every((x) => x.trainable === total));
    assert.ok(r.angles.finetuned.endsWith("fft-1") || r.angles.finetuned.endsWith("fft-2"));

    // The soups: members, accuracy on validation and test, Table 3's parameters.
    const { fft, fapft } = r.soups;
    assert.equal(fft.soup.members.length, 2);
    assert.equal(fapft.soup.members.length, 2);
    for (const s of [fft, fapft]) {
      assert.ok(s.soup.val!.n > 0 && s.soup.test!.n > 0 && s.soup.val!.n !== s.soup.test!.n, "validation (held-out training images) and test are different sets");
      assert.ok(s.ingredients.every((i) => i.val !== null && i.test !== null));
    }
    assert.equal(fft.params.trained, 2 * total);
    assert.equal(fapft.params.trained, f1.trainable + f2.trainable);
    assert.ok(fapft.val!.heldOutFromAll, "the FAPFT runs share their split seed");
    assert.ok(fft.val!.heldOutFromAll, "full fine-tunes with seeds 0 and 1 share the split (its seed is separate from the training seed)");
    // FAPFT: the patch embedding is frozen in both runs, so it is shared; both soups average the head.
    assert.ok(!fapft.tensors.differing.includes("patch_embed.proj.weight") && fapft.tensors.shared > 0);
    assert.ok(fft.tensors.differing.includes("patch_embed.proj.weight"));
    for (const s of [fft, fapft]) assert.ok(s.tensors.differing.includes("head.weight"));
    // The soup's test accuracy is what makeSoup measured; the table shows it.
    assert.match(r.table, /^\| Exp\. \| FFT Acc\. \| FFT Params \| FAPFT Acc\. \| FAPFT Params \|/);
    assert.equal(r.table.split("\n").length, 5);
    assert.ok(r.table.includes(`| Soup | ${(fft.soup.test!.acc * 100).toFixed(2)} | ${(2 * total).toLocaleString("en-US")} |`), r.table);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "study", "study.json"), "utf8")).runs, JSON.parse(JSON.stringify(r.runs)));
    assert.ok(seconds < 30, `study took ${seconds.toFixed(1)} s`);
  } finally {
    cleanup();
  }
});
