// The study decides the precision once: on a CPU without native bf16 its runs train in fp32 and
// its cost step measures fp32 too (the runs used to fall back to the engine's answer while the
// cost step fell back to bf16).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadStudyConfig, runStudy, type StudyBackend } from "../../src/study/index.js";
import { tempDir } from "../helpers/reference.js";
import { stubBackend } from "./stub.js";

test("without native bf16, the runs and the cost step both use fp32", { timeout: 300_000 }, () => {
  const { dir, cleanup } = tempDir("pft-study-precision-");
  try {
    const stub = stubBackend();
    const trained: unknown[] = [];
    const measured: unknown[] = [];
    const backend: StudyBackend = {
      ...stub,
      defaultPrecision: () => "fp32",
      train: (o) => {
        trained.push(o.config.precision);
        stub.train(o);
      },
      cost: (r) => {
        measured.push(r.precision);
        return stub.cost(r);
      },
    };
    const outcome = runStudy({ config: loadStudyConfig("quick"), out: dir, backend, log: () => {}, progress: null });
    assert.ok(trained.length > 0);
    assert.deepEqual([...new Set(trained)], ["fp32"], "every run trains in fp32");
    assert.deepEqual(measured, ["fp32"], "the cost step measures fp32");
    assert.equal(outcome.records.cost[0].settings.precision, "fp32");
  } finally {
    cleanup();
  }
});
