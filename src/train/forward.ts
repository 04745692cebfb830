// The forward pass of partial fine-tuning. Segments before the first one with a trainable
// parameter run under noGrad: autograd records nothing there and keeps no activations, so a
// run that trains only the last blocks pays for the frozen prefix only once, forward.
import { noGrad, scope, type Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { Segment, VisionModel } from "../models/index.js";

/** Index of the first segment with a trainable parameter (-1 when nothing trains). */
export function firstTrainableSegment(segments: readonly Segment[]): number {
  return segments.findIndex((s) => s.parameters.some((p) => p.trainable));
}

export function forwardPartial(model: VisionModel, x: Tensor): Tensor {
  const segments = model.segments();
  const first = firstTrainableSegment(segments);
  if (first < 0) throw new PftError("config", "no parameter is trainable: nothing to fine-tune");
  let h = x;
  if (first > 0) {
    h = noGrad(() =>
      scope(() => {
        let y = x;
        for (const s of segments.slice(0, first)) y = s.run(y);
        return y;
      }),
    );
  }
  // Each intermediate handle is dropped as soon as the next segment has used it: autograd keeps
  // its own references to what backward needs, so the storage of everything else is freed early.
  for (const s of segments.slice(first)) {
    const next = s.run(h);
    if (h !== x && next !== h) h.dispose();
    h = next;
  }
  return h;
}
