// A model's forward and backward under bf16 autocast in a fresh process (the engine reads its
// PFT_* switches at load), for comparing a fused kernel with the composed path it replaces.
import assert from "node:assert/strict";
import { runEngineScript } from "./reference.js";

export interface AutocastRun {
  /** engineInfo().fusedLayerNorm in that process */
  fused: boolean;
  /** ATen layer_norm calls in the forward pass (profiled) */
  layerNorms: number;
  /** the model's stage depths */
  depths: number[];
  /** logits of a [2, 3, 32, 32] input, as float32 */
  out: number[];
  /** `param`'s gradient after cross-entropy on labels 1 and 2 */
  grad: number[];
}

export function autocastRun(model: string, param: string, env: Record<string, string> = {}, seed = 7): AutocastRun {
  const script = `
    const { Tensor, F, autocast, manualSeed, engineInfo, profile } = await import(ENGINE);
    const { createModel } = await import(ENGINE.replace("engine/index.js", "models/index.js"));
    const { readFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    manualSeed(${seed});
    const m = createModel(${JSON.stringify(model)}, { numClasses: 10 });
    const x = Tensor.randn([2, 3, 32, 32]);
    const trace = join(tmpdir(), "pft-autocast-" + process.pid + ".json");
    let logits;
    profile(trace, () => { logits = autocast(() => m.forward(x)); });
    const layerNorms = JSON.parse(readFileSync(trace, "utf8")).filter((e) => e.name === "aten::native_layer_norm").length;
    rmSync(trace);
    F.crossEntropy(logits.float(), Tensor.from([1, 2], [2], { dtype: "int64" })).backward();
    const grad = m.namedParameters().find((n) => n.name === ${JSON.stringify(param)}).param.grad;
    console.log(JSON.stringify({ fused: engineInfo().fusedLayerNorm, layerNorms, depths: m.cfg.depths, out: logits.float().toArray(), grad: grad.toArray() }));`;
  const r = runEngineScript(script, env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as AutocastRun;
}
