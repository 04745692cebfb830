// bench/finite: the cost of refusing non-finite weights, against reading the file.
//
// Writes a ViT-B/16-sized checkpoint (createModel("vit_base_patch16_224"), ~346 MB) to a temporary
// directory, then alternates for `--rounds` rounds (best of each kept), in this process:
//   (a) reading every tensor with the check off (openSafetensors(path, { allowNonfinite: true }) + get),
//   (b) the same with the check on (the default: libtorch's sum, exact check only if it is not finite),
//   (c) the raw-bytes path of angles and soups (view(), no tensor; the check in JavaScript), off and on,
// and prints (b)/(a) - 1, the check's extra cost (goal: under 10%).
//
//   node dist/bench/finite/run.js [--rounds 5]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEngine, engineInfo, manualSeed, scope } from "../../src/engine/index.js";
import { createModel } from "../../src/models/index.js";
import { openSafetensors, writeSafetensors } from "../../src/nn/index.js";

function readAll(path: string, allowNonfinite: boolean): number {
  const t0 = process.hrtime.bigint();
  using r = openSafetensors(path, { allowNonfinite });
  for (const name of r.keys()) scope(() => void r.get(name));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The raw path (angles, soups): bytes into one reused buffer, no libtorch tensor; the check runs in JavaScript. */
function viewAll(path: string, allowNonfinite: boolean): number {
  const t0 = process.hrtime.bigint();
  using r = openSafetensors(path, { allowNonfinite });
  for (const name of r.keys()) r.view(name);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function main(): void {
  const i = process.argv.indexOf("--rounds");
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 5;
  const dir = mkdtempSync(join(tmpdir(), "pft-bench-finite-"));
  try {
    const path = join(dir, "vit_base.safetensors");
    manualSeed(0);
    const model = createModel("vit_base_patch16_224");
    writeSafetensors(path, model.stateDict());
    model.dispose();
    readAll(path, true); // warm the page cache
    let plain = Infinity;
    let checked = Infinity;
    let rawPlain = Infinity;
    let rawChecked = Infinity;
    for (let r = 0; r < rounds; r++) {
      plain = Math.min(plain, readAll(path, true));
      checked = Math.min(checked, readAll(path, false));
      rawPlain = Math.min(rawPlain, viewAll(path, true));
      rawChecked = Math.min(rawChecked, viewAll(path, false));
    }
    console.log(describeEngine(engineInfo()));
    console.log(`file: ${(statSync(path).size / 1e6).toFixed(1)} MB (vit_base_patch16_224), best of ${rounds} rounds, page cache warm`);
    console.log(`read, check off: ${(plain * 1000).toFixed(1)} ms`);
    console.log(`read, check on:  ${(checked * 1000).toFixed(1)} ms`);
    console.log(`extra cost of the check: ${((checked / plain - 1) * 100).toFixed(1)}% (goal < 10%)`);
    console.log(`raw bytes (view), check off: ${(rawPlain * 1000).toFixed(1)} ms; on: ${(rawChecked * 1000).toFixed(1)} ms (+${((rawChecked / rawPlain - 1) * 100).toFixed(1)}%)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
