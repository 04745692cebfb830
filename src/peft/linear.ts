// Linear probing as a method: nothing is added and only the classifier trains. It is the same as
// the partial-fine-tuning strategy `linear` (src/partial), which `--method linear` is an alias of;
// it is here so every baseline of Table 1 answers the same Peft interface.
//
// ViT-B/16: the head alone, 768 · 100 + 100 = 76,900 = 0.08M with 100 classes, 769,000 = 0.77M
// with 1000 (Table 1).
import type { VisionModel } from "../models/index.js";
import { PftError } from "../errors.js";
import { checkPlain, freezeAllBut, type Peft } from "./peft.js";

export function applyLinear(model: VisionModel): Peft {
  checkPlain(model, "linear");
  const trainable = model.classifierKeys();
  freezeAllBut(model, trainable);
  let live = true;
  const finish = (): VisionModel => {
    if (!live) throw new PftError("argument", "linear was already merged or removed");
    live = false;
    return model;
  };
  return {
    spec: { method: "linear" },
    model,
    added: [],
    trainable,
    mergeable: true,
    merge: finish,
    remove: finish,
  };
}

/** Linear probing adds nothing. */
export function linearShapes(): Map<string, number[]> {
  return new Map();
}

