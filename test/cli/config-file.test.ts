// Training config files: YAML or JSON, command-line flags override them, unknown keys and wrong
// types refused with the key's path, and every CLI run writes args.yaml, itself a config file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseWithConfig, readConfigFile } from "../../src/cli/config-file.js";
import { finetune, pretrain } from "../../src/cli/commands/train.js";
import { PftError } from "../../src/errors.js";
import { tempDir } from "../helpers/reference.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const pft = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 300_000 });

test("defaults < config file < command line; YAML and JSON; timm's snake_case keys", () => {
  const { dir, cleanup } = tempDir();
  try {
    const yml = join(dir, "c.yaml");
    writeFileSync(yml, "lr: 0.002\nbatch_size: 16\nmodel: vit_micro_patch4_28\nmixup: 0.2\n");
    const { flags } = parseWithConfig(["--config", yml, "--lr", "0.01", "--data", "digits"], pretrain.flags);
    assert.equal(flags.lr, 0.01, "the command line overrides the file");
    assert.equal(flags["batch-size"], 16, "the file overrides the default");
    assert.equal(flags.mixup, 0.2);
    assert.equal(flags.model, "vit_micro_patch4_28");
    assert.equal(flags["weight-decay"], 0.05, "the default stays where neither gives a value");
    const json = join(dir, "c.json");
    writeFileSync(json, JSON.stringify({ strategy: "attn", epochs: 3 }));
    const j = parseWithConfig(["--config", json], finetune.flags).flags;
    assert.equal(j.strategy, "attn");
    assert.equal(j.epochs, 3);
  } finally {
    cleanup();
  }
});

test("unknown keys and wrong types are refused with the key's path", () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: [string, RegExp][] = [
      ["lrr: 0.1\n", /: unknown key 'lrr'$/],
      ["batch-size: 1.5\n", /: 'batch-size' must be an integer, got 1.5$/],
      ["lr: fast\n", /: 'lr' must be a number, got "fast"$/],
      ["data: [digits]\n", /: 'data' must be a string, got \["digits"\]$/],
      ["quiet: true\n", /: unknown key 'quiet' \(a command-line option only\)$/],
      ["- lr\n", /: expected a mapping of option names to values$/],
      ["lr: [\n", /: not valid YAML or JSON/],
    ];
    for (const [text, want] of cases) {
      const f = join(dir, "bad.yaml");
      writeFileSync(f, text);
      assert.throws(() => readConfigFile(f, pretrain.flags), (e: unknown) => e instanceof PftError && want.test(e.message) && e.message.startsWith(f), text);
    }
  } finally {
    cleanup();
  }
});

test("pft pretrain --config: override, args.yaml beside run.json reproduces the run, a bad key writes nothing", () => {
  const { dir, cleanup } = tempDir();
  try {
    const cfg = join(dir, "pre.yaml");
    writeFileSync(cfg, ["model: vit_micro_patch4_28", "data: digits", "train-per-class: 5", "steps: 3", "warmup-steps: 1", "batch-size: 8", "lr: 0.002", ""].join("\n"));
    const a = join(dir, "a");
    const r = pft("pretrain", "--config", cfg, "--lr", "0.003", "--out", a, "--quiet");
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(a, "run.json")));
    const args = parse(readFileSync(join(a, "args.yaml"), "utf8")) as Record<string, unknown>;
    assert.equal(args.lr, 0.003);
    assert.equal(args["batch-size"], 8);
    assert.equal(args.steps, 3);
    assert.equal(args["weight-decay"], 0.05, "defaults are recorded too (the resolved configuration)");
    assert.equal(args.out, a);
    assert.ok(!("config" in args) && !("quiet" in args));
    const run = JSON.parse(readFileSync(join(a, "run.json"), "utf8")) as { config: { lr: number; batchSize: number } };
    assert.equal(run.config.lr, 0.003);
    assert.equal(run.config.batchSize, 8);

    // args.yaml as the config of a second run: the same resolved options, the same weights.
    const b = join(dir, "b");
    const again = pft("pretrain", "--config", join(a, "args.yaml"), "--out", b, "--quiet");
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual({ ...(parse(readFileSync(join(b, "args.yaml"), "utf8")) as object), out: a }, args);
    assert.deepEqual(readFileSync(join(b, "model.safetensors")), readFileSync(join(a, "model.safetensors")));

    writeFileSync(cfg, "model: vit_micro_patch4_28\ndata: digits\nlearning-rate: 0.1\n");
    const c = join(dir, "c");
    const bad = pft("pretrain", "--config", cfg, "--out", c);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim(), `pft: ${cfg}: unknown key 'learning-rate'`);
    assert.ok(!existsSync(c), "nothing written");
  } finally {
    cleanup();
  }
});
