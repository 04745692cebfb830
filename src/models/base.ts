// What every architecture file provides (timm's common model API), so the trainer, the partial
// fine-tuning core and the CLI never dispatch on architecture names.
import type { Tensor } from "../engine/index.js";
import { Module, type StateDict } from "../nn/index.js";
import type { UnitRules } from "./catalog.js";

export abstract class VisionModel extends Module {
  /** Architecture family ("vit", "swin", "convnext", "asmlp"). */
  abstract readonly arch: string;
  abstract readonly numClasses: number;
  /** Input image side and channels the model was built for. */
  abstract readonly imageSize: number;
  abstract readonly inChans: number;

  /** Backbone up to (not including) pooling and head. */
  abstract forwardFeatures(x: Tensor): Tensor;
  /** Pooling, final norm where the family has it there, and the classifier. */
  abstract forwardHead(features: Tensor): Tensor;

  override forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x));
  }

  /** Replaces the classifier with a freshly initialised one for `numClasses` classes. */
  abstract resetClassifier(numClasses: number): void;

  /** State-dict keys of the classifier (re-initialised when class counts differ). */
  abstract classifierKeys(): string[];

  /** Parameters excluded from weight decay besides 1-d ones (timm's no_weight_decay). */
  noWeightDecay(): Set<string> {
    return new Set();
  }

  /** How this family's parameter names map onto residual units. */
  abstract unitRules(): UnitRules;

  /**
   * Adapts a checkpoint to this model before loading (timm's checkpoint_filter_fn): key renames,
   * position-embedding resizing. Pure: returns a new map, never mutates or disposes its input.
   */
  checkpointFilter(sd: StateDict): StateDict {
    return sd;
  }
}
