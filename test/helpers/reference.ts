// Test helpers: the PyTorch reference peer and numeric comparisons.
//
// The reference is Debian's python3-torch (1.13, same libtorch as the engine) at /usr/bin/python3;
// a pyenv python3 without torch may come first on PATH, so the path is explicit. PFT_PYTHON overrides.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

export const PYTHON = process.env.PFT_PYTHON ?? "/usr/bin/python3";

/**
 * Runs an ES-module script in a fresh node process, with `env` added to this one's: for what is
 * set once per process (engine environment variables, a clean GC history). The script can
 * `await import(ENGINE)`, the engine's compiled entry point.
 */
export function runEngineScript(body: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const engine = new URL("../../src/engine/index.js", import.meta.url).pathname;
  const script = `const ENGINE = ${JSON.stringify(engine)};\n${body}`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, ...env }, encoding: "utf8" });
}

/** Runs a Python script with `input` as JSON on stdin; returns what it printed, parsed as JSON. */
export function runTorch<T = unknown>(script: string, input: unknown = null, timeoutMs = 120_000): T {
  const r = spawnSync(PYTHON, ["-c", script], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: timeoutMs,
    env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "2" },
  });
  if (r.status !== 0) throw new Error(`reference python failed (${r.status}): ${r.stderr || r.error}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs a Python script and returns its stdout (no JSON). */
export function runPython(script: string, args: string[] = [], timeoutMs = 120_000): string {
  const r = spawnSync(PYTHON, ["-c", script, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`reference python failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout;
}

export interface Diff {
  maxAbs: number;
  maxRel: number;
}

/** Largest absolute and relative (|a-b| / max(|b|, floor)) differences. */
export function diff(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-6): Diff {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    const d = Math.abs(a - e);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), floor));
  }
  return { maxAbs, maxRel };
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise, naming the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = "pft-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
