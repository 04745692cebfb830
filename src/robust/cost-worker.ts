// One cost measurement in a fresh process (so peak RSS belongs to this method alone), spawned by
// measureCost (cost.ts says what is measured and how):
//   node dist/src/robust/cost-worker.js <method> <train|test> '<CostOptions JSON>'
// prints one JSON CostSample line.
import { measureCostInProcess, type CostMode } from "./cost.js";

const [method, mode, json] = process.argv.slice(2);
console.log(JSON.stringify(measureCostInProcess(method, mode as CostMode, JSON.parse(json ?? "{}"))));
