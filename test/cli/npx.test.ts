// `npx pft` as a new user types it: in this checkout (root and a folder below it) after
// setup.sh, and in another project that installs the packed package with no network. Every npx
// call is --offline: a registry package named `pft` (an unrelated one) can never be fetched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/reference.js";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string>; dependencies: Record<string, string> };

function sh(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
const npx = (cwd: string, ...args: string[]) => sh("npx", ["--offline", "pft", ...args], cwd);

test("npx pft runs this checkout's CLI from the repository root and from a folder below it", () => {
  const link = join(ROOT, "node_modules", ".bin", "pft");
  assert.ok(existsSync(link), "node_modules/.bin/pft is missing: run setup.sh (or node scripts/link-bin.mjs)");
  // The link is relative (../../dist/...): it names the bin of the checkout that holds node_modules
  // (this one, unless node_modules is itself a link to another checkout's).
  const owner = resolve(realpathSync(join(ROOT, "node_modules")), "..");
  assert.equal(realpathSync(link), realpathSync(join(owner, PKG.bin.pft)), "node_modules/.bin/pft is the checkout's own bin");
  for (const cwd of [ROOT, join(ROOT, "dist", "test")]) {
    const r = npx(cwd, "--version");
    assert.equal(r.status, 0, `${cwd}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), PKG.version, cwd);
    const models = npx(cwd, "models", "--json");
    assert.equal(models.status, 0, models.stderr);
    assert.ok((JSON.parse(models.stdout) as { name: string }[]).some((m) => m.name === "vit_micro_patch4_28"));
  }
});

/** The runtime dependencies installed here, with theirs, by name (to pack them for an offline install). */
function runtimeDeps(): string[] {
  const seen = new Set<string>();
  const visit = (deps: Record<string, string> = {}) => {
    for (const d of Object.keys(deps)) {
      if (seen.has(d)) continue;
      seen.add(d);
      visit((JSON.parse(readFileSync(join(ROOT, "node_modules", d, "package.json"), "utf8")) as { dependencies?: Record<string, string> }).dependencies);
    }
  };
  visit(PKG.dependencies);
  return [...seen];
}

// The packed package builds its native addon at install (node-gyp, a few minutes) and its bin
// is on npx's path in the consumer project. The dependencies come from tarballs packed from this
// checkout's node_modules, so nothing is downloaded.
test("npm pack, then npm install <tarball> in another project with no network: the addon builds and npx pft runs", () => {
  const { dir, cleanup } = tempDir("pft-pack-");
  try {
    const packs = join(dir, "packs");
    const project = join(dir, "consumer");
    for (const d of [packs, project]) assert.equal(sh("mkdir", ["-p", d], dir).status, 0);
    const packed = sh("npm", ["pack", "--silent", "--pack-destination", packs, ROOT, ...runtimeDeps().map((d) => join(ROOT, "node_modules", d))], ROOT);
    assert.equal(packed.status, 0, packed.stderr);
    const tarballs = packed.stdout.trim().split("\n").map((f) => join(packs, f.trim()));
    const ours = tarballs.find((t) => t.endsWith(`${PKG.name}-${PKG.version}.tgz`));
    assert.ok(ours, packed.stdout);
    const listing = sh("tar", ["-tzf", ours!], dir);
    for (const f of ["package/dist/src/cli/main.js", "package/binding.gyp", "package/native/addon.cc"]) assert.ok(listing.stdout.includes(f), `the tarball has ${f}`);
    assert.ok(!listing.stdout.includes("package/build/"), "the tarball carries no prebuilt addon: it builds at install");

    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
    const installed = sh("npm", ["install", "--offline", "--no-audit", "--no-fund", ...tarballs], project, 1_200_000);
    assert.equal(installed.status, 0, installed.stderr.split("\n").slice(-10).join("\n"));
    assert.ok(existsSync(join(project, "node_modules", PKG.name, "build", "Release", "pft_native.node")), "the native addon was built at install");
    const version = npx(project, "--version");
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), PKG.version);
    // A command that runs the engine: ViT-micro's attention-only parameter count (hand-checked in test/partial).
    const params = npx(project, "params", "--model", "vit_micro_patch4_28", "--strategy", "attn", "--json");
    assert.equal(params.status, 0, params.stderr);
    const p = JSON.parse(params.stdout) as { trainable: number; total: number };
    assert.ok(p.trainable > 0 && p.trainable < p.total, params.stdout);
  } finally {
    cleanup();
  }
});
