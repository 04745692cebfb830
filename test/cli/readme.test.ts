// The README's "A typical session" commands, run as written through `npx pft` in a fresh folder,
// with the quick-try flags the README documents appended to the training commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/reference.js";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The indented command block after "A typical session:". */
function sessionCommands(): string[][] {
  const at = README.indexOf("A typical session:");
  assert.ok(at >= 0, "README has a typical session");
  const lines = README.slice(at).split("\n").slice(1);
  const block: string[] = [];
  for (const l of lines) {
    if (l.startsWith("    ")) block.push(l.trim());
    else if (block.length && l.trim() !== "") break;
  }
  return block.map((l) => l.split(/\s+/));
}

/** The flags the README says to append for a quick try. */
function quickTry(): string[] {
  const m = /For a quick try, append `([^`]+)` to the `pretrain` and `finetune` commands/.exec(README);
  assert.ok(m, "README documents the quick-try flags");
  return m![1].split(/\s+/);
}

test("the README's typical session runs as written with npx pft", () => {
  const { dir, cleanup } = tempDir("pft-readme-");
  try {
    const commands = sessionCommands();
    assert.ok(commands.length >= 5);
    // The session runs in a folder of its own (its runs/ would otherwise land in the checkout),
    // where pft is installed as setup.sh links it: node_modules/.bin/pft, this checkout's bin.
    mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
    symlinkSync(join(ROOT, "dist", "src", "cli", "main.js"), join(dir, "node_modules", ".bin", "pft"));
    const env = process.env;
    for (const words of commands) {
      assert.deepEqual(words.slice(0, 2), ["npx", "pft"], words.join(" "));
      const args = ["pretrain", "finetune"].includes(words[2]) ? [...words.slice(1), ...quickTry(), "--quiet"] : words.slice(1);
      const r = spawnSync("npx", ["--offline", ...args], { cwd: dir, env, encoding: "utf8", timeout: 600_000 });
      assert.equal(r.status, 0, `${words.join(" ")}: ${r.stderr.split("\n").slice(-4).join("\n")}`);
    }
    for (const f of ["runs/pre/model.safetensors", "runs/full/model.safetensors", "plan.json", "runs/fapft/result.json"]) assert.ok(existsSync(join(dir, f)), f);
    const fapft = JSON.parse(readFileSync(join(dir, "runs/fapft/result.json"), "utf8")) as { strategy: string; trainable: number; total: number };
    assert.equal(fapft.strategy, "plan:plan.json");
    assert.ok(fapft.trainable < fapft.total);
  } finally {
    cleanup();
  }
});
