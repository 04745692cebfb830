// The shape fixtures the accounting tests use are what createModel builds today (building the
// 88M-parameter models takes a few seconds each, which is why the accounting tests read fixtures).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PAPER_MODELS, readFixture, fixtureFromModel } from "./shapes.js";

for (const model of PAPER_MODELS) {
  test(`the stored names and shapes of ${model} match createModel (else: node dist/test/partial/shapes.js --write)`, async () => {
    assert.deepEqual(await fixtureFromModel(model), readFixture(model), `${model}: the fixture is stale`);
  });
}
