// A Parameter is a long-lived tensor a module owns (float32 master weights), trainable or frozen.
// Frozen means: requires_grad off, so autograd never computes its gradient, and optimizers
// skip it entirely (no state). Freezing is what partial fine-tuning is made of.
import { noGrad, Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";

export class Parameter {
  #value: Tensor;

  constructor(value: Tensor, trainable = true) {
    this.#value = value.keep();
    if (value.requiresGrad !== trainable) value.requiresGrad_(trainable);
  }

  /** The tensor itself (not a copy). Owned by the Parameter: do not dispose it. */
  get value(): Tensor {
    return this.#value;
  }

  get trainable(): boolean {
    return this.#value.requiresGrad;
  }

  set trainable(v: boolean) {
    if (this.#value.requiresGrad === v) return;
    this.#value.requiresGrad_(v);
    if (!v) this.#value.zeroGrad();
  }

  /** The accumulated gradient (a new handle), or null. */
  get grad(): Tensor | null {
    return this.#value.grad;
  }

  zeroGrad(): void {
    this.#value.zeroGrad();
  }

  get shape(): number[] {
    return this.#value.shape;
  }

  numel(): number {
    return this.#value.numel();
  }

  /** Replaces the values in place (same tensor identity, so optimizers and graphs stay valid). */
  assign(values: Tensor): void {
    const shape = this.#value.shape;
    const got = values.shape;
    if (shape.length !== got.length || shape.some((d, i) => d !== got[i])) {
      throw new PftError("shape", `shape mismatch: parameter is [${shape.join(", ")}], value is [${got.join(", ")}]`);
    }
    noGradCopy(this.#value, values);
  }

  /** Replaces the underlying tensor (e.g. a new head), disposing the old one. */
  replace(value: Tensor): void {
    const trainable = this.trainable;
    this.#value.dispose();
    this.#value = value.keep();
    if (value.requiresGrad !== trainable) value.requiresGrad_(trainable);
  }

  dispose(): void {
    this.#value.dispose();
  }
}

function noGradCopy(dst: Tensor, src: Tensor): void {
  noGrad(() => dst.copy_(src));
}

export interface NamedParameter {
  /** The state-dict key, e.g. `blocks.3.attn.qkv.weight`. */
  name: string;
  param: Parameter;
}
