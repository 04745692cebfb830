// Run directories: one owner (OUT/.lock with its PID), stale locks of dead processes taken over,
// dead writers' temporary files removed, and the run records right after interruptions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PftError, engineInfo } from "../../src/index.js";
import { train, trainConfig } from "../../src/train/index.js";
import { acquireRunLock, LOCK_FILE, pidAlive, tempFileOwner } from "../../src/train/lock.js";
import { tempDir } from "../helpers/reference.js";
import { quiet, synthetic, tiny } from "./synthetic.js";

/** A PID that is not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const pid = Number(r.stdout);
  assert.ok(!pidAlive(pid));
  return pid;
}

test("a live owner's lock refuses a second process; a dead owner's lock is taken over", async () => {
  const d = tempDir();
  try {
    // A live other process (a sleeping child) holds the lock.
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      writeFileSync(join(d.dir, LOCK_FILE), JSON.stringify({ pid: child.pid }) + "\n");
      assert.throws(
        () => train({ model: tiny(), trainable: "all", train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 1, batchSize: 16 }), outDir: d.dir, progress: quiet }),
        (e: unknown) => e instanceof PftError && e.code === "io" && e.message === `${d.dir} is in use by another pft process (pid ${child.pid}, ${join(d.dir, LOCK_FILE)}): wait for it to finish or give another --out`,
      );
      assert.deepEqual(readdirSync(d.dir), [LOCK_FILE], "nothing written by the refused process");
    } finally {
      child.kill("SIGKILL");
    }
    // Its owner gone, the lock is stale: taken over, and released at the end.
    writeFileSync(join(d.dir, LOCK_FILE), JSON.stringify({ pid: deadPid() }) + "\n");
    train({ model: tiny(), trainable: "all", train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 1, batchSize: 16 }), outDir: d.dir, progress: quiet });
    assert.ok(!existsSync(join(d.dir, LOCK_FILE)), "released");
    const lock = acquireRunLock(d.dir);
    assert.equal(JSON.parse(readFileSync(lock.path, "utf8")).pid, process.pid);
    lock.release();
  } finally {
    d.cleanup();
  }
});

test("temporary files of dead writers are removed when the directory is taken; metrics of a killed fresh attempt go", () => {
  const d = tempDir();
  try {
    const dead = deadPid();
    const leftovers = [`.best.safetensors.${dead}.a1b2c3d4e5f6.tmp`, `latest.json.tmp-${dead}`, `metrics.jsonl.tmp-${dead}`, `result.json.tmp-${dead}`, `ckpt-000001.tmp-${dead}`];
    for (const f of leftovers) writeFileSync(join(d.dir, f), "x");
    mkdirSync(join(d.dir, "ckpt-000007"));
    writeFileSync(join(d.dir, "ckpt-000007", `.model.safetensors.${dead}.00ff00ff00ff.tmp`), "x");
    writeFileSync(join(d.dir, "notes.txt"), "mine");
    // metrics.jsonl of an attempt killed before its first checkpoint.
    writeFileSync(join(d.dir, "metrics.jsonl"), '{"epoch":1}\n{"epoch":1}\n');
    assert.equal(tempFileOwner(leftovers[0]), dead);
    assert.equal(tempFileOwner("model.safetensors"), null);
    const r = train({ model: tiny(), trainable: "all", train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 2, batchSize: 16 }), outDir: d.dir, resume: true, progress: quiet, haltAfterEpochs: 1 });
    assert.deepEqual(r.epochs.map((e) => e.epoch), [1]);
    const left = readdirSync(d.dir).sort();
    for (const f of leftovers) assert.ok(!left.includes(f), `${f} removed`);
    assert.ok(left.includes("notes.txt"), "other files are left alone");
    assert.deepEqual(readdirSync(join(d.dir, "ckpt-000001")).sort(), ["model.safetensors", "optimizer.safetensors", "state.json"]);
    assert.deepEqual(readFileSync(join(d.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).epoch), [1]);
    // Resumed: the result lists every epoch of the run, not only the last process's.
    const resumed = train({ model: tiny(), trainable: "all", train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 2, batchSize: 16 }), outDir: d.dir, resume: true, progress: quiet });
    assert.equal(resumed.halted, false);
    assert.deepEqual(resumed.epochs.map((e) => e.epoch), [1, 2]);
    assert.deepEqual(readFileSync(join(d.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).epoch), [1, 2]);
  } finally {
    d.cleanup();
  }
});

test("run.json records the thread count; a resume at another count is refused", () => {
  const d = tempDir();
  try {
    const go = () => train({ model: tiny(), trainable: "all", train: synthetic(16, 1), val: null, config: trainConfig({ epochs: 2, batchSize: 16 }), outDir: d.dir, resume: true, progress: quiet, haltAfterEpochs: 1 });
    go();
    const runJson = JSON.parse(readFileSync(join(d.dir, "run.json"), "utf8"));
    const threads = engineInfo().threads;
    assert.equal(runJson.threads, threads);
    writeFileSync(join(d.dir, "run.json"), JSON.stringify({ ...runJson, threads: threads + 1 }));
    assert.throws(go, (e: unknown) => e instanceof PftError && e.code === "config" && e.message === `cannot resume ${d.dir}: it trained with ${threads + 1} threads and this process has ${threads}, so the result would differ from an uninterrupted run: set PFT_THREADS=${threads + 1} (or --no-resume)`);
  } finally {
    d.cleanup();
  }
});
