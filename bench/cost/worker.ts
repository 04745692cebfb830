// One bench/cost measurement in a fresh process (so peak RSS belongs to this method alone):
//   node dist/bench/cost/worker.js <method> <train|test> '<CostOptions JSON>'
// prints one JSON CostSample line (src/robust/cost.ts says what is measured and how).
import { measureCostInProcess, type CostMode } from "../../src/robust/index.js";

const [method, mode, json] = process.argv.slice(2);
console.log(JSON.stringify(measureCostInProcess(method, mode as CostMode, JSON.parse(json ?? "{}"))));
