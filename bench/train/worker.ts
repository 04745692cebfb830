// One bench/train measurement in a fresh process (so peak RSS belongs to this strategy alone):
// fine-tune steps of a small ViT with one strategy, through the real trainer's forward path.
import { readFileSync } from "node:fs";
import { Tensor, F, scope, autocast, manualSeed, liveTensors } from "../../src/engine/index.js";
import { createModel, catalogOf } from "../../src/models/index.js";
import { planForStrategy, parseStrategy } from "../../src/partial/index.js";
import { AdamW, paramGroupsWeightDecay } from "../../src/optim/index.js";
import { forwardPartial } from "../../src/train/index.js";

const kib = (field: string) => Number(/(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field)) ?? "")?.[1] ?? 0);

const [strategy, json] = process.argv.slice(2);
const o = JSON.parse(json) as { model: string; batch: number; steps: number; warmup: number; precision: "bf16" | "fp32" };
manualSeed(0);
const model = createModel(o.model);
const id = parseStrategy(strategy);
if (id === "fapft") throw new Error("bench/train measures the manual strategies");
const plan = planForStrategy(catalogOf(model), id);
const names = new Set(plan.trainable);
model.setTrainable((n) => names.has(n), true);
model.setTrainable((n) => !names.has(n), false);
const trainable = model.trainableParameters();
const opt = new AdamW(paramGroupsWeightDecay(trainable, 0.05, model.noWeightDecay()), { lr: 1e-4 });
const x = Tensor.randn([o.batch, model.inChans, model.imageSize, model.imageSize]).keep();
const y = Tensor.randint(0, model.numClasses, [o.batch]).keep();
const baseline = kib("VmRSS:");
const step = () =>
  scope(() => {
    const logits = autocast(() => forwardPartial(model, x), { enabled: o.precision === "bf16" }).float();
    F.crossEntropy(logits, y).backward();
    opt.step();
    opt.zeroGrad();
  });
for (let i = 0; i < o.warmup; i++) step();
const t0 = process.hrtime.bigint();
for (let i = 0; i < o.steps; i++) step();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(
  JSON.stringify({
    strategy: plan.strategy,
    trainable: plan.counts.trainable,
    total: plan.counts.total,
    imagesPerSecond: (o.batch * o.steps) / seconds,
    peakRssMiB: kib("VmHWM:") / 1024,
    baselineRssMiB: baseline / 1024,
    liveTensors: liveTensors(),
  }),
);
