// A finetune run's interop files: timm's config.json and a Hugging Face model card.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { tempDir } from "../helpers/reference.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const pft = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 300_000 });
const small = ["--data", "digits", "--train-per-class", "8", "--val", "20", "--batch-size", "16", "--steps", "3", "--warmup-steps", "1", "--quiet"];

test("finetune writes config.json (timm's hub config) and README.md (model card) that match the run", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pre = join(dir, "pre");
    const ft = join(dir, "ft");
    assert.equal(pft("pretrain", "--model", "vit_micro_patch4_28", ...small, "--out", pre).status, 0);
    const r = pft("finetune", "--from", pre, "--strategy", "attn", ...small, "--out", ft);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(readFileSync(join(ft, "result.json"), "utf8")) as { trainable: number; total: number; test: { acc: number; n: number } };
    const run = JSON.parse(readFileSync(join(ft, "run.json"), "utf8")) as { trainable: string[] };

    const config = JSON.parse(readFileSync(join(ft, "config.json"), "utf8"));
    assert.equal(config.architecture, "vit_micro_patch4_28");
    assert.equal(config.num_classes, 10);
    assert.deepEqual(config.label_names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // vit_micro_patch4_28 takes 1x28x28 images normalised to [-1, 1]; its classifier is `head`.
    assert.deepEqual(config.pretrained_cfg.input_size, [1, 28, 28]);
    assert.deepEqual([config.pretrained_cfg.mean, config.pretrained_cfg.std], [[0.5], [0.5]]);
    assert.equal(config.pretrained_cfg.classifier, "head");
    assert.equal(config.pretrained_cfg.num_classes, 10);

    const card = readFileSync(join(ft, "README.md"), "utf8");
    const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
    assert.ok(m, "front matter");
    const front = parse(m![1]) as Record<string, unknown>;
    assert.equal(front.library_name, "timm");
    assert.equal(front.pipeline_tag, "image-classification");
    const baseHash = createHash("sha256").update(readFileSync(join(pre, "model.safetensors"))).digest("hex");
    assert.ok(card.includes(`sha256 \`${baseHash}\``), "the base weights' hash");
    assert.ok(card.includes(`attn, ${result.trainable.toLocaleString("en")} of ${result.total.toLocaleString("en")} parameters`), "what trained, with counts");
    assert.ok(card.includes(`in ${run.trainable.length} tensors`));
    assert.ok(card.includes(`| test (${result.test.n} images) | ${(result.test.acc * 100).toFixed(2)}% |`), "the result");
    assert.ok(card.includes(`npx pft finetune --config ${join(ft, "args.yaml")}`), "the command that trains it again");
  } finally {
    cleanup();
  }
});
