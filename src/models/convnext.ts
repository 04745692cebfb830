// ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s"), as timm's convnext.py with its defaults:
// patch stem (conv + LayerNorm2d), four stages of blocks (7x7 depthwise conv, channels-last
// LayerNorm, Linear MLP 4x with GELU, layer scale `gamma`), LayerNorm2d + 2x2 stride-2 conv
// downsampling between stages, and timm's NormMlpClassifierHead (pool -> norm -> flatten -> fc).
// Parameter names are timm's, so a timm ConvNeXt state dict loads with strict checking; the
// original FB checkpoints load through convnextCheckpointFilter.
//
// Not implemented (timm options no paper model uses): conv_mlp, GRN (ConvNeXt-V2), overlap stems,
// head_norm_first, head_hidden_size, dilation for output strides below 32.
//
// Order, as in every model file: blocks, the model, the checkpoint filter, the unit rules, configs.
import { Tensor, noGrad, scoped } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Module, Parameter, Linear, LayerNorm, LayerNorm2d, Conv2d, Dropout, DropPath, Identity, ModuleList, Sequential, truncNormal_, zeros_, type StateDict } from "../nn/index.js";
import { VisionModel, type Segment } from "./base.js";
import type { UnitRules } from "./catalog.js";
import { registerModel, registerUnitRules, definedOnly } from "./registry.js";
// The MLP is timm's Mlp, shared with ViT (fc1 -> GELU -> fc2 over channels-last input).
import { Mlp } from "./vit.js";

/** timm's ConvNeXt uses eps 1e-6 in every LayerNorm (stem, downsampling, blocks, head). */
const LN_EPS = 1e-6;

// ------------------------------------------------------------------ blocks


export interface ConvNeXtBlockOptions {
  kernelSize: number;
  mlpRatio: number;
  /** Layer-scale init (timm's ls_init_value; null: no `gamma`). */
  lsInitValue: number | null;
  dropPath: number;
}

/**
 * One residual unit: x + drop_path(gamma * mlp(norm(conv_dw(x)))), with norm, mlp and gamma applied
 * channels-last (timm's conv_mlp=False path). Its input and output are [B, C, H, W].
 */
export class ConvNeXtBlock extends Module {
  readonly gamma: Parameter | null;
  readonly conv_dw: Conv2d;
  readonly norm: LayerNorm;
  readonly mlp: Mlp;
  readonly drop_path: Module;

  constructor(dim: number, o: ConvNeXtBlockOptions) {
    super();
    // Declared first so the key order is PyTorch's: a module's own parameters before its children.
    this.gamma = o.lsInitValue !== null ? new Parameter(Tensor.full([dim], o.lsInitValue)) : null;
    this.conv_dw = new Conv2d(dim, dim, o.kernelSize, { padding: Math.floor(o.kernelSize / 2), groups: dim });
    // feeds the MLP's first linear: under bf16 autocast it normalises the conv's bf16 output straight to bf16
    this.norm = new LayerNorm(dim, { eps: LN_EPS, feedsLinear: true });
    this.mlp = new Mlp(dim, Math.round(dim * o.mlpRatio));
    this.drop_path = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
  }

  /** The residual branch, [B, C, H, W] -> [B, C, H, W]. */
  @scoped
  branch(x: Tensor): Tensor {
    let h = this.conv_dw.forward(x).permute([0, 2, 3, 1]);
    h = this.mlp.forward(this.norm.forward(h));
    if (this.gamma) h = h.mul(this.gamma.value);
    return this.drop_path.forward(h.permute([0, 3, 1, 2]));
  }

  override forward(x: Tensor): Tensor {
    return this.branch(x).add(x);
  }
}

/** Optional downsampling (LayerNorm2d, then a 2x2 stride-2 conv), then the stage's blocks. */
export class ConvNeXtStage extends Module {
  readonly downsample: Sequential | Identity;
  readonly blocks: ModuleList<ConvNeXtBlock>;

  constructor(inChans: number, outChans: number, stride: number, dropPathRates: number[], o: Omit<ConvNeXtBlockOptions, "dropPath">) {
    super();
    this.downsample =
      inChans !== outChans || stride > 1
        ? new Sequential(new LayerNorm2d(inChans, { eps: LN_EPS }), new Conv2d(inChans, outChans, stride > 1 ? 2 : 1, { stride }))
        : new Identity();
    this.blocks = new ModuleList(dropPathRates.map((dp) => new ConvNeXtBlock(outChans, { ...o, dropPath: dp })));
  }

  override forward(x: Tensor): Tensor {
    let h = this.downsample.forward(x);
    for (const blk of this.blocks) h = blk.forward(h);
    return h;
  }
}

/** timm's NormMlpClassifierHead without a hidden layer: global average pool -> LayerNorm2d -> flatten -> fc. */
export class ConvNeXtHead extends Module {
  readonly norm: LayerNorm2d;
  readonly drop: Dropout;
  fc: Linear | Identity;

  constructor(
    readonly inFeatures: number,
    numClasses: number,
    dropRate: number,
  ) {
    super();
    this.norm = new LayerNorm2d(inFeatures, { eps: LN_EPS });
    this.drop = new Dropout(dropRate);
    this.fc = numClasses > 0 ? new Linear(inFeatures, numClasses) : new Identity();
  }

  /** [B, C, H, W] -> [B, C]: pooled and normalised features (timm's pre_logits). */
  @scoped
  preLogits(x: Tensor): Tensor {
    return this.norm.forward(x.mean([2, 3], { keepdim: true })).flatten(1);
  }

  override forward(x: Tensor): Tensor {
    return this.fc.forward(this.drop.forward(this.preLogits(x)));
  }
}

// ------------------------------------------------------------------ the model

export interface ConvNeXtConfig {
  /** The input side the model is built and checked for (a convnet accepts others). */
  imageSize: number;
  inChans: number;
  numClasses: number;
  /** Blocks per stage. */
  depths: number[];
  /** Channels per stage. */
  dims: number[];
  /**
   * Stem patch size (conv kernel = stride). As timm: stage 0 keeps the stem's resolution, except
   * after a stride-2 stem, where stage 0 downsamples too (output stride 32 either way for 2 and 4).
   */
  patchSize: number;
  /** Depthwise kernel size (padding k // 2). */
  kernelSize: number;
  mlpRatio: number;
  /** Layer-scale init (timm's ls_init_value); null: no gamma. */
  lsInitValue: number | null;
  /** Scales the classifier's initial weight and bias (timm's head_init_scale). */
  headInitScale: number;
  /** Dropout before the classifier. */
  dropRate: number;
  /** Stochastic depth, linearly increasing to this rate over all blocks of all stages (0.1+ when fine-tuning). */
  dropPathRate: number;
}

export const CONVNEXT_DEFAULTS: ConvNeXtConfig = {
  imageSize: 224,
  inChans: 3,
  numClasses: 1000,
  depths: [3, 3, 9, 3],
  dims: [96, 192, 384, 768],
  patchSize: 4,
  kernelSize: 7,
  mlpRatio: 4,
  lsInitValue: 1e-6,
  headInitScale: 1,
  dropRate: 0,
  dropPathRate: 0,
};

/** Stride of each stage's downsampling, as timm: 2 for every stage but the first, and for the first after a stride-2 stem. */
export function convnextStageStrides(c: Pick<ConvNeXtConfig, "patchSize" | "depths">): number[] {
  return c.depths.map((_, i) => (i > 0 || c.patchSize === 2 ? 2 : 1));
}

/** Spatial side after the stem and after each stage for an input of `imageSize` (floor, as the convs). */
export function convnextFeatureSides(c: Pick<ConvNeXtConfig, "imageSize" | "patchSize" | "depths">): number[] {
  let side = Math.floor(c.imageSize / c.patchSize);
  return convnextStageStrides(c).map((s) => (side = s > 1 ? Math.floor(side / 2) : side));
}

export class ConvNeXt extends VisionModel {
  readonly arch = "convnext";
  readonly cfg: ConvNeXtConfig;
  readonly stem: Sequential;
  readonly stages: ModuleList<ConvNeXtStage>;
  readonly head: ConvNeXtHead;

  constructor(config: Partial<ConvNeXtConfig> = {}) {
    super();
    const c = (this.cfg = { ...CONVNEXT_DEFAULTS, ...config, depths: [...(config.depths ?? CONVNEXT_DEFAULTS.depths)], dims: [...(config.dims ?? CONVNEXT_DEFAULTS.dims)] });
    checkConfig(c);
    this.stem = new Sequential(new Conv2d(c.inChans, c.dims[0], c.patchSize, { stride: c.patchSize }), new LayerNorm2d(c.dims[0], { eps: LN_EPS }));
    const total = c.depths.reduce((a, b) => a + b, 0);
    // torch.linspace(0, rate, total), split per stage.
    const rates = Array.from({ length: total }, (_, i) => (total > 1 ? (c.dropPathRate * i) / (total - 1) : 0));
    const strides = convnextStageStrides(c);
    let offset = 0;
    this.stages = new ModuleList(
      c.depths.map((depth, i) => {
        const stage = new ConvNeXtStage(i === 0 ? c.dims[0] : c.dims[i - 1], c.dims[i], strides[i], rates.slice(offset, offset + depth), {
          kernelSize: c.kernelSize,
          mlpRatio: c.mlpRatio,
          lsInitValue: c.lsInitValue,
        });
        offset += depth;
        return stage;
      }),
    );
    this.head = new ConvNeXtHead(c.dims[c.dims.length - 1], c.numClasses, c.dropRate);
    this.initWeights();
  }

  /** Channels of the pooled features (timm's num_features). */
  get numFeatures(): number {
    return this.head.inFeatures;
  }

  /** timm's _init_weights: trunc_normal(.02) for conv and Linear weights, zero biases, head scaled. */
  private initWeights(): void {
    for (const m of this.modules()) {
      if (m instanceof Conv2d || m instanceof Linear) {
        truncNormal_(m.weight, { std: 0.02 });
        if (m.bias) zeros_(m.bias);
      }
    }
    this.scaleHead();
  }

  private scaleHead(): void {
    const fc = this.head.fc;
    if (!(fc instanceof Linear) || this.cfg.headInitScale === 1) return;
    noGrad(() => {
      fc.weight.value.mul_(this.cfg.headInitScale);
      fc.bias?.value.mul_(this.cfg.headInitScale);
    });
  }

  /** Stem and stages: [B, C, H, W] -> [B, dims[-1], H / 32, W / 32] (for patch size 2 or 4). */
  @scoped
  forwardFeatures(x: Tensor): Tensor {
    let h = this.stem.forward(x);
    for (const stage of this.stages) h = stage.forward(h);
    return h;
  }

  forwardHead(h: Tensor): Tensor {
    return this.head.forward(h);
  }

  /** Stem, then per stage its downsampling (if any) and every block (each a residual unit), then the head. */
  override segments(): Segment[] {
    const segs: Segment[] = [{ name: "stem", parameters: this.stem.parameters(), run: (x) => this.stem.forward(x) }];
    [...this.stages].forEach((stage, i) => {
      const ds = stage.downsample;
      if (ds instanceof Sequential) segs.push({ name: `stages.${i}.downsample`, parameters: ds.parameters(), run: (h) => ds.forward(h) });
      [...stage.blocks].forEach((blk, j) => segs.push({ name: `stages.${i}.blocks.${j}`, parameters: blk.parameters(), run: (h) => blk.forward(h) }));
    });
    segs.push({ name: "head", parameters: this.head.parameters(), run: (h) => this.forwardHead(h) });
    return segs;
  }

  resetClassifier(numClasses: number): void {
    const old = this.head.fc;
    const fc = numClasses > 0 ? new Linear(this.head.inFeatures, numClasses) : new Identity();
    if (fc instanceof Linear) {
      truncNormal_(fc.weight, { std: 0.02 });
      if (fc.bias) zeros_(fc.bias);
    }
    this.head.fc = fc;
    this.cfg.numClasses = numClasses;
    this.scaleHead();
    old.dispose();
  }

  classifierKeys(): string[] {
    return ["head.fc.weight", "head.fc.bias"];
  }

  unitRules(): UnitRules {
    return CONVNEXT_UNITS;
  }

  override checkpointFilter(sd: StateDict): StateDict {
    return convnextCheckpointFilter(sd, this);
  }
}

function checkConfig(c: ConvNeXtConfig): void {
  const bad = (msg: string) => new PftError("config", `ConvNeXt: ${msg}`);
  if (c.depths.length === 0 || c.depths.length !== c.dims.length) throw bad(`depths (${c.depths.length}) and dims (${c.dims.length}) need the same, non-zero length`);
  if (c.depths.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`depths must be non-negative integers, got [${c.depths.join(", ")}]`);
  if (!Number.isInteger(c.patchSize) || c.patchSize < 1 || c.patchSize >= 8) {
    // timm switches the last stages to dilation once the stride reaches output_stride 32.
    throw bad(`patch size must be an integer in 1..7, got ${c.patchSize} (larger ones need timm's dilated stages)`);
  }
  if (!Number.isInteger(c.kernelSize) || c.kernelSize % 2 !== 1) throw bad(`kernel size must be odd, got ${c.kernelSize}`);
  const sides = convnextFeatureSides(c);
  if (sides[sides.length - 1] < 1) {
    throw bad(`a ${c.imageSize}x${c.imageSize} input shrinks to nothing (sides per stage ${sides.join(", ")} with patch size ${c.patchSize})`);
  }
}

// ------------------------------------------------------------------ checkpoint filter

/**
 * timm's checkpoint_filter_fn: maps the original FB layout (facebookresearch/ConvNeXt) onto
 * timm's names, and OpenCLIP's `visual.trunk.*` with a linear projection head. A timm state dict
 * (it has head.norm.*) is returned as is. Pure: a new map; input tensors are shared, not copied.
 *
 *   downsample_layers.0.*        -> stem.*
 *   downsample_layers.{i}.{j}.*  -> stages.{i}.downsample.{j}.*
 *   stages.{s}.{b}.*             -> stages.{s}.blocks.{b}.*  (dwconv -> conv_dw, pwconv{1,2} -> mlp.fc{1,2})
 *   norm.*                       -> head.norm.*
 *   head.*                       -> head.fc.*
 */
export function convnextCheckpointFilter(sd: StateDict, model: ConvNeXt): StateDict {
  if (sd.has("head.norm.weight") || sd.has("norm_pre.weight")) return sd;
  if (sd.has("visual.trunk.stem.0.weight")) {
    const out: StateDict = new Map();
    for (const [k, v] of sd) if (k.startsWith("visual.trunk.")) out.set(k.slice("visual.trunk.".length), v);
    const proj = sd.get("visual.head.proj.weight");
    if (proj) {
      out.set("head.fc.weight", proj);
      out.set("head.fc.bias", Tensor.zeros([proj.size(0)], { dtype: proj.dtype }));
    }
    return out;
  }
  const own = model.stateDict();
  const out: StateDict = new Map();
  for (const [key, v] of sd) {
    const k = fbToTimmKey(key);
    let value = v;
    // FB 1x1 convs stored as Linear weights (conv_mlp models): take the model's shape.
    const want = own.get(k)?.shape;
    if (v.ndim === 2 && !k.includes("head") && want && want.length !== 2 && v.numel() === want.reduce((a, b) => a * b, 1)) value = v.reshape(want);
    out.set(k, value);
  }
  return out;
}

/** One key of the FB layout in timm's names (unknown keys pass through, for loadStateDict to report). */
export function fbToTimmKey(key: string): string {
  let k = key.replace(/^downsample_layers\.0\./, "stem.");
  k = k.replace(/^stages\.(\d+)\.(\d+)\./, "stages.$1.blocks.$2.");
  k = k.replace(/^downsample_layers\.(\d+)\.(\d+)\./, "stages.$1.downsample.$2.");
  k = k.replace(/\.dwconv\./, ".conv_dw.");
  k = k.replace(/\.pwconv(\d)\./, ".mlp.fc$1.");
  k = k.replace(/^head\./, "head.fc.");
  k = k.replace(/^norm\./, "head.norm.");
  return k;
}

// ------------------------------------------------------------------ residual units (Table 6)

/** One unit kind: the whole block (conv_dw + norm + mlp + gamma); blocks of a stage form one group. */
export const CONVNEXT_UNITS: UnitRules = {
  arch: "convnext",
  detect: (keys) => keys.includes("stem.0.weight") && keys.some((k) => /^stages\.\d+\.blocks\.\d+\.conv_dw\.weight$/.test(k)),
  units: [{ kind: "block", pattern: /^stages\.(?<stage>\d+)\.blocks\.(?<block>\d+)\./, unitName: (s, b) => `stages.${s}.blocks.${b}` }],
  roles: [
    [/^stem\./, "patch_embed"],
    [/^stages\.\d+\.downsample\./, "downsample"],
    [/^head\.norm\./, "norm"],
    [/^head\.fc\./, "head"],
  ],
  kindOrder: ["block"],
};

// ------------------------------------------------------------------ registered configs

const convnext = (name: string, description: string, cfg: Partial<ConvNeXtConfig>) =>
  registerModel({ name, arch: "convnext", description, create: (o) => new ConvNeXt({ ...cfg, ...definedOnly(o) }) });

registerUnitRules(CONVNEXT_UNITS);
convnext("convnext_base", "ConvNeXt-B (paper, Tables 6-8), 88.6M params", { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] });
convnext("convnext_tiny", "ConvNeXt-T, 28.6M params", { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] });
// Small variants for CPU runs (batch-64 train steps cost less than the ViTs of the same input).
// 32x32: timm's patch-4 stem (same layout as ConvNeXt-B): stages at 8/4/2/1 px, the last one 1x1.
// (A patch-2 stem gains nothing here: timm then downsamples in stage 0 as well, to the same sizes.)
convnext("convnext_micro_32", "ConvNeXt for 32x32 RGB (stages at 8/4/2/1 px), 1.9M params", {
  imageSize: 32, depths: [2, 2, 4, 2], dims: [32, 64, 128, 256], numClasses: 10,
});
// 28x28: 28 is not a multiple of 32, so patch 4 would leave nothing for stage 3. A patch-1 stem
// (a 1x1 conv) keeps 28x28 in stage 0 and the output stride is 8: stages at 28/14/7/3 px.
convnext("convnext_micro_28", "ConvNeXt for 28x28 grayscale (MNIST-like; patch-1 stem, stages at 28/14/7/3 px), 0.4M params", {
  imageSize: 28, patchSize: 1, inChans: 1, depths: [2, 2, 2, 2], dims: [16, 32, 64, 128], numClasses: 10,
});
