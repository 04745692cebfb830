// The logit ensemble: the argmax and cross-entropy of the members' mean logits, checked against
// the logits computed member by member here; one member is plain evaluation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { evaluateEnsemble } from "../../src/soups/index.js";
import { evaluate, type BatchSource } from "../../src/train/index.js";
import { TINY } from "./fixtures.js";

test("evaluateEnsemble: accuracy and loss of the mean logits over two batches; one member equals evaluate()", () => {
  manualSeed(3);
  const model = new VisionTransformer({ ...TINY });
  const states = [1, 2, 3].map((s) => {
    manualSeed(s);
    const m = new VisionTransformer({ ...TINY });
    const sd = new Map([...m.stateDict()].map(([k, v]) => [k, v.clone().keep()]));
    m.dispose();
    return sd;
  });
  const load = (i: number) => noGrad(() => { for (const [k, v] of model.stateDict()) v.copy_(states[i].get(k)!); });
  manualSeed(9);
  const xs = [Tensor.randn([5, 1, 8, 8]).keep(), Tensor.randn([3, 1, 8, 8]).keep()];
  const ys = [[0, 1, 2, 1, 0], [2, 2, 1]];
  const data: BatchSource = { stepsPerEpoch: 2, *batches() { for (let b = 0; b < 2; b++) yield { x: xs[b].clone(), y: Tensor.from(BigInt64Array.from(ys[b], BigInt), [ys[b].length], { dtype: "int64" }) }; } };
  try {
    // expected: the mean logits, computed here
    model.eval();
    const logits = [0, 1, 2].map((i) => { load(i); return xs.map((x) => scope(() => noGrad(() => model.forward(x).data() as Float32Array))); });
    let correct = 0;
    let loss = 0;
    ys.forEach((y, b) => y.forEach((label, r) => {
      const z = [0, 1, 2].map((c) => (logits[0][b][r * 3 + c] + logits[1][b][r * 3 + c] + logits[2][b][r * 3 + c]) / 3);
      const max = Math.max(...z);
      loss += max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0)) - z[label];
      if (z.indexOf(max) === label) correct++;
    }));
    const e = evaluateEnsemble(model, [0, 1, 2], load, data, false);
    assert.equal(e.n, 8);
    assert.equal(e.acc, correct / 8);
    assert.ok(Math.abs(e.loss - loss / 8) < 1e-9, `${e.loss} vs ${loss / 8}`);
    const one = evaluateEnsemble(model, [1], load, data, false);
    load(1);
    const plain = evaluate(model, data, false);
    assert.equal(one.acc, plain.acc);
    assert.ok(Math.abs(one.loss - plain.loss) < 1e-5, `${one.loss} vs ${plain.loss}`);
  } finally {
    model.dispose();
    xs.forEach((x) => x.dispose());
    states.forEach((s) => s.forEach((t) => t.dispose()));
  }
});
