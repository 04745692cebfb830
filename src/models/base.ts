// What every architecture file provides (timm's common model API), so the trainer, the partial
// fine-tuning core and the CLI never dispatch on architecture names.
import type { Tensor } from "../engine/index.js";
import { Module, type Parameter, type StateDict } from "../nn/index.js";
import type { UnitRules } from "./catalog.js";

/**
 * A piece of the forward pass, in order: running every segment in turn equals forward(). The
 * trainer runs the frozen prefix (segments before the first one with a trainable parameter)
 * without recording autograd, so partial fine-tuning pays nothing for what it does not train.
 */
export interface Segment {
  name: string;
  /** The parameters this segment uses (to tell whether any is trainable). */
  parameters: Parameter[];
  run(h: Tensor): Tensor;
}

export abstract class VisionModel extends Module {
  /** Architecture family ("vit", "swin", "convnext", "asmlp"). */
  abstract readonly arch: string;
  /** The family's config; every family has these three fields. */
  abstract readonly cfg: { numClasses: number; imageSize: number; inChans: number };
  /** Input image side and channels the model was built for. */
  get imageSize(): number {
    return this.cfg.imageSize;
  }
  get inChans(): number {
    return this.cfg.inChans;
  }
  get numClasses(): number {
    return this.cfg.numClasses;
  }

  /** Backbone up to (not including) pooling and head. */
  abstract forwardFeatures(x: Tensor): Tensor;
  /** Pooling, final norm where the family has it there, and the classifier. */
  abstract forwardHead(features: Tensor): Tensor;

  override forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x));
  }

  /**
   * The forward pass as consecutive segments. The default is one segment; families split it at
   * residual-unit boundaries so a frozen prefix can run under noGrad.
   */
  segments(): Segment[] {
    return [{ name: "all", parameters: this.parameters(), run: (x) => this.forward(x) }];
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
