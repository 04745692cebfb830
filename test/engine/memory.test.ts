// Native memory: the caching CPU allocator (native/allocator.cc) and what V8 is told.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, scope, engineInfo, emptyCache, gcOwnedBytes } from "../../src/index.js";
import { runEngineScript } from "../helpers/reference.js";

const MiB = 2 ** 20;
const cache = () => engineInfo().cpuCache;

test("a freed buffer serves the next tensor of its size; emptyCache gives idle blocks back", () => {
  const size = [512, 1024]; // 2 MiB of float32: cached (>= 64 KiB)
  scope(() => { Tensor.zeros(size); });
  const before = cache();
  for (let i = 0; i < 5; i++) scope(() => { Tensor.zeros(size).add_(1); });
  const after = cache();
  assert.ok(after.hits - before.hits >= 5, `5 same-size tensors after a freed one: ${after.hits - before.hits} hits`);
  assert.ok(after.idleBytes >= 2 * MiB, "the last one's block is idle in the cache");
  // a live tensor's block is not idle, and its memory is not touched by emptyCache
  const live = Tensor.full(size, 7);
  emptyCache();
  assert.equal(cache().idleBytes, 0);
  assert.equal(live.sum().item(), 7 * 512 * 1024);
  live.dispose();
  assert.ok(cache().idleBytes >= 2 * MiB, "disposing returns the block to the cache");
});

test("the cache's idle memory stays under its cap (PFT_CPU_CACHE_MB) and 0 turns it off", () => {
  const script = `
    const { Tensor, engineInfo } = await import(ENGINE);
    const ts = [];
    for (let i = 1; i <= 12; i++) ts.push(Tensor.zeros([i * 64 * 1024])); // 0.25 .. 3 MiB, all different sizes
    for (const t of ts) t.dispose();
    console.log(JSON.stringify(engineInfo().cpuCache));`;
  const run = (mb: string) => {
    const r = runEngineScript(script, { PFT_CPU_CACHE_MB: mb });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { limitBytes: number; idleBytes: number; hits: number; misses: number };
  };
  const capped = run("8");
  assert.equal(capped.limitBytes, 8 * MiB);
  assert.ok(capped.idleBytes <= 8 * MiB && capped.idleBytes > 4 * MiB, `idle ${capped.idleBytes} within an 8 MiB cap`);
  const off = run("0");
  assert.deepEqual(off, { limitBytes: 0, idleBytes: 0, hits: 0, misses: 0 });
  const bad = runEngineScript(script, { PFT_CPU_CACHE_MB: "lots" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /PFT_CPU_CACHE_MB must be a non-negative integer \(MiB\), got 'lots'/);
});

test("V8 is told of tensors the GC owns, not of those a scope frees", () => {
  const bytes = 16 * MiB;
  const base = gcOwnedBytes();
  scope(() => {
    Tensor.zeros([bytes / 4]);
    assert.equal(gcOwnedBytes(), base, "a scoped tensor is freed by its scope: V8 need not weigh it");
  });
  const kept = scope(() => Tensor.zeros([bytes / 4]));
  assert.equal(gcOwnedBytes() - base, bytes, "returned out of the outermost scope: the GC owns it now");
  kept.dispose();
  assert.equal(gcOwnedBytes(), base, "dispose takes it back off");
  const unscoped = Tensor.zeros([bytes / 4]);
  assert.equal(gcOwnedBytes() - base, bytes, "made outside any scope");
  unscoped.dispose();
  const k = scope(() => Tensor.zeros([bytes / 4]).keep());
  assert.equal(gcOwnedBytes() - base, bytes, "kept");
  k.dispose();
  assert.equal(gcOwnedBytes(), base);
});

// In a child process, so that no other test's garbage is counted: 150 tensors of 16 MiB (2.4 GiB)
// made and dropped without dispose are collected because V8 weighs them, and as many made and
// freed in scopes cost no full collection at all (before scopes kept their tensors off V8's
// books, a ViT forward pass ran a mark-compact every ~70 ms to find nothing to free).
test("the GC collects dropped tensors by their native size, and scoped ones cost it nothing", () => {
  const script = `
    const { Tensor, scope, liveTensors } = await import(ENGINE);
    const { PerformanceObserver, constants } = await import("node:perf_hooks");
    let major = 0;
    const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++; });
    obs.observe({ entryTypes: ["gc"] });
    const tick = () => new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 150; i++) scope(() => { Tensor.zeros([4 * 1024 * 1024]).add_(1); });
    await tick();
    const scopedMajor = major;
    let peakLive = 0;
    for (let i = 0; i < 150; i++) { Tensor.zeros([4 * 1024 * 1024]); peakLive = Math.max(peakLive, liveTensors()); if (i % 10 === 0) await tick(); }
    await tick();
    console.log(JSON.stringify({ scopedMajor, droppedMajor: major - scopedMajor, peakLive }));`;
  const r = runEngineScript(script, { PFT_CPU_CACHE_MB: "0" });
  assert.equal(r.status, 0, r.stderr);
  const { scopedMajor, droppedMajor, peakLive } = JSON.parse(r.stdout) as { scopedMajor: number; droppedMajor: number; peakLive: number };
  assert.ok(scopedMajor <= 1, `${scopedMajor} full collections for scoped tensors`);
  assert.ok(droppedMajor >= 1, "dropped tensors made V8 collect");
  assert.ok(peakLive < 100, `at most ${peakLive} of the 150 dropped tensors were alive at once`);
});
