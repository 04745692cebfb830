// Greedy soup (Wortsman et al. 2022): order by validation accuracy, strict improvement only,
// each candidate tried once; and makeSoup's report and files with an injected evaluation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PftError } from "../../src/index.js";
import { greedySelect, makeSoup, openIngredients, resolveValSplit, soupReportPath, type SoupReport } from "../../src/soups/index.js";
import { tempDir } from "../helpers/reference.js";
import { tinyWeights, perturbed, writeWeights, readValues } from "./fixtures.js";

/** Accuracies of soups by their (sorted) member set. */
const table = (t: Record<string, number>) => (members: readonly number[]) => {
  const k = [...members].sort((a, b) => a - b).join(",");
  if (!(k in t)) assert.fail(`soup {${k}} was evaluated but the case does not expect it`);
  return t[k];
};

test("greedy: best first, then each other ingredient once by decreasing accuracy, kept only on strict improvement", () => {
  const individual = [0.5, 0.9, 0.7, 0.8, 0.6];
  const tried: number[][] = [];
  const acc = table({ "1,3": 0.92, "1,2,3": 0.91, "1,3,4": 0.95, "0,1,3,4": 0.95 });
  const r = greedySelect(individual, (m) => {
    tried.push([...m]);
    return acc(m);
  });
  assert.deepEqual(r.order, [1, 3, 2, 4, 0]);
  assert.deepEqual(tried, [[1, 3], [1, 3, 2], [1, 3, 4], [1, 3, 4, 0]], "candidate = kept + candidate, each tried once in order");
  assert.deepEqual(r.kept, [1, 3, 4], "0.91 < 0.92 drops ingredient 2; a tie (0.95) drops ingredient 0");
  assert.equal(r.acc, 0.95);
  assert.deepEqual(r.steps.map((s) => s.kept), [true, false, true, false]);
});

test("greedy: no candidate helps -> the best ingredient alone; ties in individual accuracy keep input order", () => {
  const r = greedySelect([0.8, 0.8, 0.3], () => 0.1);
  assert.deepEqual(r.order, [0, 1, 2]);
  assert.deepEqual(r.kept, [0]);
  assert.equal(r.acc, 0.8);
  assert.deepEqual(greedySelect([0.4], () => assert.fail("nothing to try")).kept, [0]);
});

test("makeSoup --greedy with an injected evaluation keeps exactly the expected set, writes their average and the report", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(1);
    const paths = [0, 1, 2, 3].map((i) => {
      // run directories, as pft writes them (run.json with the trainable count)
      const run = join(dir, `run${i}`);
      mkdirSync(run);
      writeWeights(join(run, "model.safetensors"), perturbed(base, 40 + i, (k) => k.startsWith(`blocks.${i % 2}.`) || k.startsWith("head.")), { model: "vit_tiny_test", dataset: "digits" });
      writeFileSync(join(run, "run.json"), JSON.stringify({ model: "vit_tiny_test", dataset: "digits", strategy: "fapft", seed: 0, val: 0.1, trainableParams: 1000 * (i + 1) }));
      return run;
    });
    const val = table({ "0": 0.6, "1": 0.7, "2": 0.9, "3": 0.8, "2,3": 0.91, "1,2,3": 0.93, "0,1,2,3": 0.92 });
    const calls: string[] = [];
    const report = makeSoup({
      method: "greedy",
      checkpoints: paths,
      out: join(dir, "soup.safetensors"),
      evaluator: (members, split) => {
        calls.push(`${split}:${members.join(",")}`);
        return { acc: split === "val" ? val(members) : 0.5 + members.length / 100, loss: 1, n: 10 };
      },
    });
    assert.deepEqual(report.soup.members, [paths[2], paths[3], paths[1]]);
    assert.deepEqual(report.greedy!.order, [paths[2], paths[3], paths[1], paths[0]]);
    assert.deepEqual(report.greedy!.steps.map((s) => [s.valAcc, s.kept]), [[0.91, true], [0.93, true], [0.92, false]]);
    assert.deepEqual(report.ingredients.map((i) => i.inSoup), [false, true, true, true]);
    assert.deepEqual(report.ingredients.map((i) => i.val!.acc), [0.6, 0.7, 0.9, 0.8]);
    assert.equal(report.soup.val!.acc, 0.93);
    assert.equal(report.soup.test!.acc, 0.53);
    assert.deepEqual(calls.filter((c) => c.startsWith("test:")), ["test:0", "test:1", "test:2", "test:3", "test:2,3,1"], "the test set never chose anything: each ingredient and the final soup only");
    assert.deepEqual(report.val, { data: "digits", val: 0.1, seed: 0, trainPerClass: null, heldOutFromAll: true });
    // Table 3's count over the soup's members: 3000 + 4000 + 2000
    assert.equal(report.params.trained, 9000);
    // the file is the uniform average of ingredients 1, 2, 3
    const got = readValues(join(dir, "soup.safetensors"));
    const ws = [1, 2, 3].map((i) => readValues(join(paths[i], "model.safetensors")));
    for (const [k, g] of got) g.forEach((x, j) => assert.equal(x, Math.fround((ws[0].get(k)![j] + ws[1].get(k)![j] + ws[2].get(k)![j]) / 3), `${k}[${j}]`));
    // blocks.0 is trained only by ingredients 0 and 2 (both even); 1 and 3 train blocks.1: both units differ in the soup
    assert.ok(report.tensors.differing.includes("blocks.0.attn.qkv.weight") && report.tensors.differing.includes("blocks.1.mlp.fc1.weight"));
    assert.ok(!report.tensors.differing.includes("patch_embed.proj.weight"), "frozen everywhere: shared");
    assert.equal(report.tensors.total, report.tensors.shared + report.tensors.differing.length);
    const onDisk = JSON.parse(readFileSync(soupReportPath(join(dir, "soup.safetensors")), "utf8")) as SoupReport;
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(report)));
    assert.equal(soupReportPath("x/soup.safetensors"), "x/soup.json");
  } finally {
    cleanup();
  }
});

test("uniform soups average everything; without evaluation no data is needed; a greedy soup must evaluate", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(2);
    const paths = [0, 1].map((i) => writeWeights(join(dir, `c${i}.safetensors`), perturbed(base, 50 + i), { model: "m", dataset: "digits", strategy: "full" }));
    const r = makeSoup({ method: "uniform", checkpoints: paths, out: join(dir, "u.safetensors"), evaluate: false });
    assert.deepEqual(r.soup.members, paths);
    assert.equal(r.soup.val, null);
    assert.equal(r.params.trained, null, "bare weights files record no trainable count");
    assert.equal(r.ingredients[0].strategy, "full");
    assert.ok(existsSync(join(dir, "u.safetensors")) && existsSync(join(dir, "u.json")));
    assert.throws(() => makeSoup({ method: "greedy", checkpoints: paths, out: join(dir, "g.safetensors"), evaluate: false }), (e: unknown) => e instanceof PftError && /cannot skip evaluation/.test(e.message));
  } finally {
    cleanup();
  }
});

test("the validation split comes from what the runs recorded; different split seeds are refused for greedy soups", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(3);
    const runs = [0, 1].map((seed) => {
      const run = join(dir, `run${seed}`);
      mkdirSync(run);
      writeWeights(join(run, "model.safetensors"), perturbed(base, 60 + seed), { model: "m", dataset: "digits" });
      writeFileSync(join(run, "run.json"), JSON.stringify({ dataset: "digits", seed, val: 0.2, trainableParams: 5 }));
      return run;
    });
    const ev = () => ({ acc: 0.5, loss: 1, n: 1 });
    using set = openIngredients(runs);
    assert.deepEqual(resolveValSplit(set.items, { method: "uniform" }), { data: "digits", val: 0.2, seed: 0, trainPerClass: null, heldOutFromAll: false });
    assert.deepEqual(resolveValSplit(set.items.slice(1), { method: "greedy" }), { data: "digits", val: 0.2, seed: 1, trainPerClass: null, heldOutFromAll: true });
    assert.throws(
      () => resolveValSplit(set.items, { method: "greedy" }),
      (e: unknown) => e instanceof PftError && e.code === "config" && /different split seeds \(0, 1\).*pass --seed/.test(e.message),
    );
    const g = makeSoup({ method: "greedy", checkpoints: runs, out: join(dir, "g.safetensors"), evaluator: ev, seed: 1 });
    assert.deepEqual(g.val, { data: "digits", val: 0.2, seed: 1, trainPerClass: null, heldOutFromAll: false });
    const u = makeSoup({ method: "uniform", checkpoints: runs, out: join(dir, "u.safetensors"), evaluator: ev });
    assert.equal(u.val!.seed, 0, "uniform: the first run's split, marked as not held out of all");
    assert.equal(u.val!.heldOutFromAll, false);
    assert.equal(u.params.trained, 10);
  } finally {
    cleanup();
  }
});
