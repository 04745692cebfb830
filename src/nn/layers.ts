// The layers vision transformers are built from, with PyTorch's parameter names, shapes and
// default initialisation (so `fc1.weight` from a timm checkpoint loads as is).
//
// Every forward runs in a scope of its own (see Module), so only its output survives;
// autograd keeps what backward needs on its own. Identity-like paths (Identity, DropPath and
// Dropout when inactive) return their input tensor itself, as PyTorch does: do not dispose a
// layer's output unless you know it is new.
import { F, scope, Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { kaimingUniform_, uniform_ } from "./init.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

function checkProbability(what: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new PftError("argument", `${what}: probability must be in [0, 1), got ${p}`);
}

function checkPositive(what: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) throw new PftError("argument", `${what}: ${k} must be a positive integer, got ${v}`);
  }
}

/** PyTorch's default for Linear and Conv: weight kaiming_uniform(a=sqrt(5)), bias U(±1/sqrt(fan_in)). */
function resetLikeTorch(weight: Parameter, bias: Parameter | null, fanIn: number): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}

// ------------------------------------------------------------------ linear and norms

export interface LinearConfig {
  bias: boolean;
}

/** y = x Wᵀ + b, weight [out, in]. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, config: Partial<LinearConfig> = {}) {
    super();
    checkPositive("Linear", { inFeatures, outFeatures });
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = new Parameter(Tensor.empty([outFeatures, inFeatures]));
    this.bias = (config.bias ?? true) ? new Parameter(Tensor.empty([outFeatures])) : null;
    resetLikeTorch(this.weight, this.bias, inFeatures);
  }

  override forward(x: Tensor): Tensor {
    return F.linear(x, this.weight.value, this.bias?.value);
  }
}

export interface LayerNormConfig {
  /** 1e-5 as PyTorch; timm's ViT and ConvNeXt pass 1e-6. */
  eps: number;
  /**
   * The output only feeds a linear layer (a transformer block's norm1 and norm2): under bf16
   * autocast it comes out in bf16, in one fused pass (F.layerNormForLinear). Default false.
   */
  feedsLinear: boolean;
}

/** LayerNorm over the last dimension, weight ones and bias zeros. */
export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly dim: number;
  readonly eps: number;
  readonly feedsLinear: boolean;

  constructor(dim: number, config: Partial<LayerNormConfig> = {}) {
    super();
    checkPositive(new.target.name, { dim });
    this.dim = dim;
    this.eps = config.eps ?? 1e-5;
    this.feedsLinear = config.feedsLinear ?? false;
    this.weight = new Parameter(Tensor.ones([dim]));
    this.bias = new Parameter(Tensor.zeros([dim]));
  }

  override forward(x: Tensor): Tensor {
    if (this.feedsLinear) return F.layerNormForLinear(x, this.weight.value, this.bias.value, this.eps);
    return F.layerNorm(x, [this.dim], this.weight.value, this.bias.value, this.eps);
  }
}

/** LayerNorm over the channels of [N, C, H, W], as timm's LayerNorm2d (ConvNeXt downsampling). */
export class LayerNorm2d extends LayerNorm {
  override forward(x: Tensor): Tensor {
    const y = F.layerNorm(x.permute([0, 2, 3, 1]), [this.dim], this.weight.value, this.bias.value, this.eps);
    return y.permute([0, 3, 1, 2]);
  }
}

// ------------------------------------------------------------------ convolution

export interface Conv2dConfig {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  /** groups = in = out channels makes a depthwise convolution (ConvNeXt's conv_dw). */
  groups: number;
  bias: boolean;
}

/** 2-d convolution over [N, C, H, W], weight [out, in / groups, kh, kw]. */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, config: Partial<Conv2dConfig> = {}) {
    super();
    const groups = config.groups ?? 1;
    const [kh, kw] = pair(kernelSize);
    checkPositive("Conv2d", { inChannels, outChannels, groups, kh, kw });
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new PftError("argument", `Conv2d: channels (${inChannels} in, ${outChannels} out) must be divisible by groups (${groups})`);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = [kh, kw];
    this.stride = pair(config.stride ?? 1);
    this.padding = pair(config.padding ?? 0);
    this.dilation = pair(config.dilation ?? 1);
    this.groups = groups;
    this.weight = new Parameter(Tensor.empty([outChannels, inChannels / groups, kh, kw]));
    this.bias = (config.bias ?? true) ? new Parameter(Tensor.empty([outChannels])) : null;
    resetLikeTorch(this.weight, this.bias, (inChannels / groups) * kh * kw);
  }

  override forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight.value, this.bias?.value, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

// ------------------------------------------------------------------ activations and regularisers

export class GELU extends Module {
  /** "tanh" for the tanh approximation (GELU(approximate='tanh')). */
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
  }

  override forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }
}

export class Identity extends Module {
  /** Returns x itself. */
  override forward(x: Tensor): Tensor {
    return x;
  }
}

/** Inverted dropout while training (zero with probability p, scale the rest by 1/(1-p)); x itself otherwise. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    checkProbability("Dropout", p);
  }

  override forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? F.dropout(x, this.p, true) : x;
  }
}

/**
 * Stochastic depth, as timm's drop_path: while training, each sample of the batch (dim 0) is
 * dropped whole with probability p, and kept samples are divided by keep_prob = 1 - p when
 * scaleByKeep. Returns x itself when not training or p = 0.
 */
export function dropPath(x: Tensor, p = 0, training = false, scaleByKeep = true): Tensor {
  if (p === 0 || !training) return x;
  checkProbability("dropPath", p);
  const keepProb = 1 - p;
  const shape = [x.shape[0], ...new Array<number>(x.ndim - 1).fill(1)];
  return scope(() => {
    const mask = Tensor.empty(shape, { dtype: x.dtype, device: x.device }).bernoulli_(keepProb);
    if (keepProb > 0 && scaleByKeep) mask.div_(keepProb);
    return x.mul(mask);
  });
}

/** Stochastic depth on a residual branch (timm's DropPath); the rate is usually ramped per block. */
export class DropPath extends Module {
  constructor(
    readonly p = 0,
    readonly scaleByKeep = true,
  ) {
    super();
    checkProbability("DropPath", p);
  }

  override forward(x: Tensor): Tensor {
    return dropPath(x, this.p, this.training, this.scaleByKeep);
  }
}

// ------------------------------------------------------------------ containers

/**
 * A list of modules, named "0", "1", ... in the state dict (`blocks.3.attn.qkv.weight`).
 * Indexable (`blocks[3]`, `blocks.at(-1)`), iterable, with a length; it has no forward.
 */
export class ModuleList<T extends Module = Module> extends Module implements Iterable<T> {
  readonly [index: number]: T;
  #length = 0;

  constructor(modules: Iterable<T> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  get length(): number {
    return this.#length;
  }

  /** Appends modules; returns this. */
  push(...modules: T[]): this {
    for (const m of modules) {
      if (!(m instanceof Module)) throw new PftError("argument", `${this.constructor.name}.push: not a Module`);
      Object.defineProperty(this, String(this.#length++), { value: m, enumerable: true, writable: true, configurable: true });
    }
    return this;
  }

  /** The module at index i (negative counts from the end); throws PftError("argument") when out of range. */
  at(i: number): T {
    const j = i < 0 ? i + this.#length : i;
    if (!Number.isInteger(j) || j < 0 || j >= this.#length) {
      throw new PftError("argument", `${this.constructor.name} index ${i} out of range (length ${this.#length})`);
    }
    return this[j];
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#length; i++) yield this[i];
  }
}

/** Modules applied one after the other; keys as ModuleList's ("0.weight", ...). */
export class Sequential extends ModuleList<Module> {
  constructor(...modules: Module[]) {
    super(modules);
  }

  override forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this) y = m.forward(y);
    return y;
  }
}
