// Forward and gradient parity of a pft model with a PyTorch reference implementation of the same
// structure (test/reference/*_ref.py): the same random weights travel through safetensors.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { writeFileSync } from "node:fs";
import { Tensor, F, noGrad, manualSeed } from "../../src/engine/index.js";
import { writeSafetensors, readSafetensors } from "../../src/nn/index.js";
import type { VisionModel } from "../../src/models/index.js";
import { PYTHON, diff, tempDir, type Diff } from "./reference.js";

export interface ParityResult {
  logits: Diff;
  /** Worst gradient difference over all parameters, relative to each tensor's largest |grad|. */
  grads: { worstKey: string; maxRelToScale: number; checked: number };
}

const repoRoot = () => resolve(new URL("../../..", import.meta.url).pathname);

/**
 * Perturbs every parameter (so norms, layer scales and biases are not at their trivial init),
 * runs the model and the reference on the same batch in float32, compares logits and the
 * gradients of cross-entropy w.r.t. every parameter.
 */
export function checkParity(model: VisionModel, refScript: string, refConfig: object, batch = 2, seed = 0): ParityResult {
  manualSeed(seed);
  noGrad(() => {
    for (const { param } of model.namedParameters()) {
      const v = param.value;
      v.add_(Tensor.randn(v.shape).mul_(0.05));
    }
  });
  model.eval();
  const x = Tensor.randn([batch, model.inChans, model.imageSize, model.imageSize]);
  const y = Tensor.randint(0, model.numClasses, [batch]);
  const { dir, cleanup } = tempDir("pft-parity-");
  try {
    writeSafetensors(join(dir, "weights.safetensors"), model.stateDict());
    writeSafetensors(join(dir, "inputs.safetensors"), new Map([["x", x], ["y", y]]));
    writeFileSync(join(dir, "config.json"), JSON.stringify(refConfig));
    const script = resolve(repoRoot(), "test/reference", refScript);
    const r = spawnSync(PYTHON, [script, join(dir, "config.json"), join(dir, "weights.safetensors"), join(dir, "inputs.safetensors"), join(dir, "out.safetensors")], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
    if (r.status !== 0) throw new Error(`reference ${refScript} failed: ${r.stderr}`);
    const ref = readSafetensors(join(dir, "out.safetensors")).tensors;

    model.zeroGrad();
    const logits = model.forward(x);
    F.crossEntropy(logits, y).backward();
    const logitsDiff = diff(logits.toArray(), ref.get("logits")!.toArray(), 1e-3);
    let worstKey = "";
    let worst = 0;
    let checked = 0;
    for (const { name, param } of model.namedParameters()) {
      const g = param.grad;
      const rg = ref.get("grad." + name);
      if (!g || !rg) throw new Error(`no gradient for ${name} (${g ? "reference" : "pft"})`);
      const a = g.toArray();
      const b = rg.toArray();
      const scale = Math.max(1e-8, ...b.map(Math.abs));
      const d = diff(a, b).maxAbs / scale;
      checked++;
      if (d > worst) [worst, worstKey] = [d, name];
    }
    return { logits: logitsDiff, grads: { worstKey, maxRelToScale: worst, checked } };
  } finally {
    cleanup();
  }
}
