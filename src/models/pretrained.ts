// Loading pretrained weights into a model: the family's checkpoint filter first (key renames,
// position-embedding resizing), then a strict load. A checkpoint trained for another number of
// classes loads everything but the classifier, which is re-initialised, and the report says so.
import type { StateDict, LoadReport } from "../nn/index.js";
import type { VisionModel } from "./base.js";

export interface LoadPretrainedReport extends LoadReport {
  /** Set when the classifier was re-initialised because the class counts differ. */
  headReset: { checkpointClasses: number; modelClasses: number } | null;
}

export function loadPretrained(model: VisionModel, checkpoint: StateDict, opts: { strict?: boolean } = {}): LoadPretrainedReport {
  let sd = model.checkpointFilter(checkpoint);
  const own = model.stateDict();
  const headKeys = model.classifierKeys();
  const differs = headKeys.some((k) => {
    const a = sd.get(k)?.shape;
    const b = own.get(k)?.shape;
    return a !== undefined && b !== undefined && (a.length !== b.length || a.some((d, i) => d !== b[i]));
  });
  let headReset: LoadPretrainedReport["headReset"] = null;
  if (differs) {
    const weight = sd.get(headKeys[0])!;
    headReset = { checkpointClasses: weight.shape[0], modelClasses: model.numClasses };
    sd = new Map([...sd].filter(([k]) => !headKeys.includes(k)));
    model.resetClassifier(model.numClasses);
    // The fresh head is the model's own: take its values so the strict load sees every key.
    for (const [k, v] of model.stateDict()) if (headKeys.includes(k)) sd.set(k, v);
  }
  const report = model.loadStateDict(sd, { strict: opts.strict ?? true });
  return { ...report, headReset };
}
