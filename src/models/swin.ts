// Swin Transformer (Liu et al. 2021), as timm's swin_transformer.py in its >= 0.9 layout:
// channels-last [B, H, W, C] activations, windowed attention with a relative position bias,
// shifted windows (with their attention mask) on every odd block, patch merging at the START of
// stages 1..3, stochastic depth linear over all blocks, global average pooling, then `head.fc`.
// Parameter names are timm's, so a timm Swin state dict loads with strict checking.
//
// Resolutions: unlike timm >= 1.0 there is no padding. Each stage's resolution must be even
// before patch merging and a multiple of its window; as timm, a window larger than the
// resolution shrinks to it (and then does not shift). The constructor says which stage fails.
//
// Order, as in every model file: blocks, the model, the checkpoint filter, the unit rules, configs.
import { Tensor, scope, scoped } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Module, Parameter, Linear, LayerNorm, Conv2d, Dropout, DropPath, Identity, ModuleList, truncNormal_, zeros_, type StateDict } from "../nn/index.js";
import { VisionModel } from "./base.js";
import type { UnitRules } from "./catalog.js";
import { registerModel, registerUnitRules, definedOnly } from "./registry.js";
import { Mlp } from "./vit.js";

// ------------------------------------------------------------------ blocks

/** A non-persistent buffer on the device of `x` (buffers are made on the CPU). */
const onDeviceOf = (t: Tensor, x: Tensor): Tensor => (t.device === x.device ? t : t.to(x.device));

/** Conv patchify, then LayerNorm over channels: [B, C, H, W] -> [B, H/p, W/p, D]. */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;
  constructor(readonly patchSize: number, inChans: number, embedDim: number) {
    super();
    this.proj = new Conv2d(inChans, embedDim, patchSize, { stride: patchSize });
    this.norm = new LayerNorm(embedDim);
  }
  override forward(x: Tensor): Tensor {
    return this.norm.forward(this.proj.forward(x).permute([0, 2, 3, 1]));
  }
}

/**
 * timm's get_relative_position_index: for tokens i, j of a window (row-major), the row of the
 * bias table holding their offset, (dy + wh - 1) * (2 ww - 1) + (dx + ww - 1). [N, N] int64.
 */
export function relativePositionIndex(wh: number, ww: number): Tensor {
  const n = wh * ww;
  const out = new Array<number>(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dy = Math.floor(i / ww) - Math.floor(j / ww);
      const dx = (i % ww) - (j % ww);
      out[i * n + j] = (dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1);
    }
  }
  return Tensor.from(out, [n, n], { dtype: "int64" });
}

/**
 * The SW-MSA mask of timm's SwinTransformerBlock: after the cyclic shift, the map splits into
 * 3 x 3 regions ([0, H-ws), [H-ws, H-shift), [H-shift, H) on each axis); tokens of one window
 * attend only within their region (-100 elsewhere). [numWindows, ws*ws, ws*ws] float32, windows
 * in window_partition's row-major order.
 */
export function shiftedWindowMask(h: number, w: number, ws: number, shift: number): Tensor {
  const region = (i: number, size: number) => (i < size - ws ? 0 : i < size - shift ? 1 : 2);
  const [nwh, nww, n] = [h / ws, w / ws, ws * ws];
  const data = new Float32Array(nwh * nww * n * n);
  const labels = new Array<number>(n);
  for (let wy = 0; wy < nwh; wy++) {
    for (let wx = 0; wx < nww; wx++) {
      for (let i = 0; i < n; i++) labels[i] = region(wy * ws + Math.floor(i / ws), h) * 3 + region(wx * ws + (i % ws), w);
      const base = (wy * nww + wx) * n * n;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[base + i * n + j] = labels[i] === labels[j] ? 0 : -100;
    }
  }
  return Tensor.from(data, [nwh * nww, n, n]);
}

/** [B, H, W, C] -> [B * numWindows, ws, ws, C] */
export function windowPartition(x: Tensor, ws: number): Tensor {
  return scope(() => {
    const [b, h, w, c] = x.shape;
    return x.reshape([b, h / ws, ws, w / ws, ws, c]).permute([0, 1, 3, 2, 4, 5]).reshape([-1, ws, ws, c]);
  });
}

/** [B * numWindows, ws, ws, C] -> [B, H, W, C] */
export function windowReverse(windows: Tensor, ws: number, h: number, w: number): Tensor {
  return scope(() => {
    const c = windows.size(-1);
    return windows.reshape([-1, h / ws, w / ws, ws, ws, c]).permute([0, 1, 3, 2, 4, 5]).reshape([-1, h, w, c]);
  });
}

/** Window multi-head self-attention (W-MSA / SW-MSA) with a learned relative position bias. */
export class WindowAttention extends Module {
  readonly relative_position_bias_table: Parameter;
  readonly qkv: Linear;
  readonly attn_drop: Dropout;
  readonly proj: Linear;
  readonly proj_drop: Dropout;
  readonly headDim: number;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    readonly windowSize: number,
    opts: { qkvBias?: boolean; attnDrop?: number; projDrop?: number } = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new PftError("config", `Swin: dim ${dim} is not divisible by ${numHeads} heads`);
    this.headDim = dim / numHeads;
    this.relative_position_bias_table = new Parameter(Tensor.zeros([(2 * windowSize - 1) ** 2, numHeads]));
    this.registerBuffer("relative_position_index", relativePositionIndex(windowSize, windowSize), false);
    this.qkv = new Linear(dim, dim * 3, { bias: opts.qkvBias ?? true });
    this.attn_drop = new Dropout(opts.attnDrop ?? 0);
    this.proj = new Linear(dim, dim);
    this.proj_drop = new Dropout(opts.projDrop ?? 0);
  }

  /** [1, heads, N, N], on the device of `like`. */
  @scoped
  relativePositionBias(like: Tensor): Tensor {
    const n = this.windowSize * this.windowSize;
    const index = onDeviceOf(this.buffer("relative_position_index"), like).reshape([-1]);
    return this.relative_position_bias_table.value.indexSelect(0, index).reshape([n, n, this.numHeads]).permute([2, 0, 1]).unsqueeze(0);
  }

  /** x: [B * numWindows, N, C]; mask: [numWindows, N, N] (0 / -100) or null. */
  @scoped
  forwardWindows(x: Tensor, mask: Tensor | null): Tensor {
    const [b, n, c] = x.shape;
    const qkv = this.qkv.forward(x).reshape([b, n, 3, this.numHeads, this.headDim]).permute([2, 0, 3, 1, 4]);
    const [q, k, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
    let attn = q.mul(this.headDim ** -0.5).matmul(k.mT()).add(this.relativePositionBias(x));
    if (mask) {
      const nw = mask.size(0);
      attn = attn.reshape([-1, nw, this.numHeads, n, n]).add(mask.unsqueeze(1).unsqueeze(0)).reshape([-1, this.numHeads, n, n]);
    }
    attn = this.attn_drop.forward(attn.softmax(-1));
    const out = attn.matmul(v).transpose(1, 2).reshape([b, n, c]);
    return this.proj_drop.forward(this.proj.forward(out));
  }

  override forward(x: Tensor): Tensor {
    return this.forwardWindows(x, null);
  }
}

export interface SwinBlockOptions {
  /** Feature map side at this block. */
  resolution: number;
  windowSize: number;
  /** Whether this block shifts its windows (timm: every odd block of a stage). */
  shifted: boolean;
  mlpRatio: number;
  qkvBias: boolean;
  projDrop: number;
  attnDrop: number;
  dropPath: number;
}

export class SwinTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly drop_path1: Module;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly drop_path2: Module;
  readonly resolution: number;
  /** Effective window side: the configured one, or the resolution when that is smaller (timm). */
  readonly windowSize: number;
  /** Cyclic shift (window / 2 on odd blocks; 0 when one window covers the map). */
  readonly shiftSize: number;

  constructor(dim: number, numHeads: number, o: SwinBlockOptions) {
    super();
    this.resolution = o.resolution;
    const covers = o.resolution <= o.windowSize;
    this.windowSize = covers ? o.resolution : o.windowSize;
    this.shiftSize = covers || !o.shifted ? 0 : Math.floor(o.windowSize / 2);
    // Both norms only feed linears (norm1 reaches qkv through the shift and window partition,
    // which move data): under bf16 autocast they normalise straight to bf16 (F.layerNormForLinear).
    this.norm1 = new LayerNorm(dim, { feedsLinear: true });
    this.attn = new WindowAttention(dim, numHeads, this.windowSize, { qkvBias: o.qkvBias, attnDrop: o.attnDrop, projDrop: o.projDrop });
    this.drop_path1 = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
    this.norm2 = new LayerNorm(dim, { feedsLinear: true });
    this.mlp = new Mlp(dim, Math.floor(dim * o.mlpRatio), o.projDrop);
    this.drop_path2 = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
    if (this.shiftSize > 0) this.registerBuffer("attn_mask", shiftedWindowMask(o.resolution, o.resolution, this.windowSize, this.shiftSize), false);
  }

  /** Cyclic shift, window partition, (S)W-MSA, window merge, reverse shift: [B, H, W, C] -> same. */
  @scoped
  shiftedWindowAttention(x: Tensor): Tensor {
    const [, h, w, c] = x.shape;
    const [ws, s] = [this.windowSize, this.shiftSize];
    const shifted = s > 0 ? x.roll([-s, -s], [1, 2]) : x;
    const windows = windowPartition(shifted, ws).reshape([-1, ws * ws, c]);
    const mask = s > 0 ? onDeviceOf(this.buffer("attn_mask"), x) : null;
    const out = windowReverse(this.attn.forwardWindows(windows, mask).reshape([-1, ws, ws, c]), ws, h, w);
    return s > 0 ? out.roll([s, s], [1, 2]) : out;
  }

  /** The attention unit's residual branch (norm1 + W-MSA). */
  @scoped
  attnBranch(x: Tensor): Tensor {
    return this.drop_path1.forward(this.shiftedWindowAttention(this.norm1.forward(x)));
  }
  /** The FFN unit's residual branch (norm2 + MLP). */
  @scoped
  ffnBranch(x: Tensor): Tensor {
    return this.drop_path2.forward(this.mlp.forward(this.norm2.forward(x)));
  }

  override forward(x: Tensor): Tensor {
    const h = x.add(this.attnBranch(x));
    return h.add(this.ffnBranch(h));
  }
}

/** 2x2 neighbourhoods concatenated (timm 0.9 order), LayerNorm(4C), Linear(4C -> 2C, no bias). */
export class PatchMerging extends Module {
  readonly norm: LayerNorm;
  readonly reduction: Linear;
  constructor(readonly dim: number, outDim = 2 * dim) {
    super();
    this.norm = new LayerNorm(4 * dim, { feedsLinear: true });
    this.reduction = new Linear(4 * dim, outDim, { bias: false });
  }
  /** [B, H, W, C] -> [B, H/2, W/2, outDim] */
  override forward(x: Tensor): Tensor {
    const [b, h, w, c] = x.shape;
    const merged = x.reshape([b, h / 2, 2, w / 2, 2, c]).permute([0, 1, 3, 4, 2, 5]).flatten(3);
    return this.reduction.forward(this.norm.forward(merged));
  }
}

/** One stage: patch merging (Identity in stage 0), then the blocks. */
export class SwinTransformerStage extends Module {
  readonly downsample: PatchMerging | Identity;
  readonly blocks: ModuleList<SwinTransformerBlock>;
  constructor(inDim: number, outDim: number, downsample: boolean, numHeads: number, dropPaths: number[], o: Omit<SwinBlockOptions, "shifted" | "dropPath">) {
    super();
    this.downsample = downsample ? new PatchMerging(inDim, outDim) : new Identity();
    this.blocks = new ModuleList(dropPaths.map((dropPath, i) => new SwinTransformerBlock(outDim, numHeads, { ...o, shifted: i % 2 === 1, dropPath })));
  }
  override forward(x: Tensor): Tensor {
    let h = this.downsample.forward(x);
    for (const blk of this.blocks) h = blk.forward(h);
    return h;
  }
}

/** timm's ClassifierHead for NHWC features: global average pool, dropout, `fc`. */
export class ClassifierHead extends Module {
  readonly drop: Dropout;
  fc: Linear | Identity;
  constructor(inFeatures: number, numClasses: number, dropRate: number) {
    super();
    this.drop = new Dropout(dropRate);
    this.fc = numClasses > 0 ? new Linear(inFeatures, numClasses) : new Identity();
  }
  /** [B, H, W, C] -> [B, classes] */
  override forward(x: Tensor): Tensor {
    return this.fc.forward(this.drop.forward(x.mean([1, 2])));
  }
}

// ------------------------------------------------------------------ the model

export interface SwinConfig {
  imageSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  /** Channels of stage 0; stage s has embedDim * 2^s. */
  embedDim: number;
  /** Blocks per stage. */
  depths: number[];
  /** Attention heads per stage. */
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** Dropout before the classifier (timm's drop_rate). */
  dropRate: number;
  /** Dropout after attention's proj and in the MLP (timm's proj_drop_rate). */
  projDropRate: number;
  attnDropRate: number;
  /** Stochastic depth, linear from 0 over all blocks of all stages; timm's Swin default is 0.1. */
  dropPathRate: number;
}

/** timm's SwinTransformer defaults (Swin-T sizes). */
export const SWIN_DEFAULTS: SwinConfig = {
  imageSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  mlpRatio: 4,
  qkvBias: true,
  dropRate: 0,
  projDropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0.1,
};

export class SwinTransformer extends VisionModel {
  readonly arch = "swin";
  readonly cfg: SwinConfig;
  readonly patch_embed: PatchEmbed;
  readonly layers: ModuleList<SwinTransformerStage>;
  readonly norm: LayerNorm;
  readonly head: ClassifierHead;
  /** Channels of the last stage (what the head sees). */
  readonly numFeatures: number;

  constructor(config: Partial<SwinConfig> = {}) {
    super();
    const c = (this.cfg = { ...SWIN_DEFAULTS, ...config });
    c.depths = [...c.depths];
    c.numHeads = [...c.numHeads];
    const stages = c.depths.length;
    if (stages === 0 || c.numHeads.length !== stages) throw new PftError("config", `Swin: ${c.depths.length} stage depths but ${c.numHeads.length} head counts`);
    if (c.imageSize % c.patchSize !== 0) throw new PftError("config", `Swin: image size ${c.imageSize} is not a multiple of patch size ${c.patchSize}`);
    const dims = c.depths.map((_, s) => c.embedDim * 2 ** s);
    const resolutions = [c.imageSize / c.patchSize];
    for (let s = 1; s < stages; s++) {
      const r = resolutions[s - 1];
      if (r % 2 !== 0) throw new PftError("config", `Swin: stage ${s} merges 2x2 patches of a ${r}x${r} map (odd; no padding here)`);
      resolutions.push(r / 2);
    }
    resolutions.forEach((r, s) => {
      const ws = Math.min(r, c.windowSize);
      if (r % ws !== 0) throw new PftError("config", `Swin: stage ${s}'s ${r}x${r} map is not a whole number of ${ws}x${ws} windows (no padding here)`);
    });
    this.numFeatures = dims[stages - 1];

    this.patch_embed = new PatchEmbed(c.patchSize, c.inChans, c.embedDim);
    const total = c.depths.reduce((a, b) => a + b, 0);
    const rates = Array.from({ length: total }, (_, i) => (total > 1 ? (c.dropPathRate * i) / (total - 1) : 0));
    let first = 0;
    this.layers = new ModuleList(
      c.depths.map((depth, s) => {
        const dp = rates.slice(first, (first += depth));
        const blockOpts = { resolution: resolutions[s], windowSize: c.windowSize, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, projDrop: c.projDropRate, attnDrop: c.attnDropRate };
        return new SwinTransformerStage(s > 0 ? dims[s - 1] : dims[0], dims[s], s > 0, c.numHeads[s], dp, blockOpts);
      }),
    );
    this.norm = new LayerNorm(this.numFeatures);
    this.head = new ClassifierHead(this.numFeatures, c.numClasses, c.dropRate);
    this.initWeights();
  }

  /** timm's init: trunc_normal(.02) for Linear weights and bias tables, zero biases; conv as PyTorch. */
  private initWeights(): void {
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        truncNormal_(m.weight, { std: 0.02 });
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof WindowAttention) {
        truncNormal_(m.relative_position_bias_table, { std: 0.02 });
      }
    }
  }

  /** [B, C, H, W] -> [B, H', W', D'] (channels last, after the final norm). */
  @scoped
  forwardFeatures(x: Tensor): Tensor {
    let h = this.patch_embed.forward(x);
    for (const stage of this.layers) h = stage.forward(h);
    return this.norm.forward(h);
  }

  forwardHead(h: Tensor): Tensor {
    return this.head.forward(h);
  }

  resetClassifier(numClasses: number): void {
    const old = this.head.fc;
    const fc = numClasses > 0 ? new Linear(this.numFeatures, numClasses) : new Identity();
    if (fc instanceof Linear) {
      truncNormal_(fc.weight, { std: 0.02 });
      if (fc.bias) zeros_(fc.bias);
    }
    this.head.fc = fc;
    this.cfg.numClasses = numClasses;
    old.dispose();
  }

  classifierKeys(): string[] {
    return ["head.fc.weight", "head.fc.bias"];
  }

  /** As timm: every relative_position_bias_table, by full name. */
  override noWeightDecay(): Set<string> {
    return new Set(this.namedParameters().filter((n) => n.name.endsWith("relative_position_bias_table")).map((n) => n.name));
  }

  unitRules(): UnitRules {
    return SWIN_UNITS;
  }

  override checkpointFilter(sd: StateDict): StateDict {
    return swinCheckpointFilter(sd);
  }
}

// ------------------------------------------------------------------ checkpoint filter

/**
 * timm's checkpoint_filter_fn, the key parts: drops the buffers old checkpoints saved
 * (relative_position_index, attn_mask), and converts the pre-0.9 layout (the original
 * Microsoft one), where patch merging sits at the END of stages 0..2 and the classifier is
 * `head.*`: layers.{s}.downsample -> layers.{s+1}.downsample, head. -> head.fc. The old layout is
 * recognised by its keys (a stage-0 downsample, a bare `head.weight`), not by a missing head.
 * Bias tables for another window size are not resized. Pure: the input map is left as is.
 */
export function swinCheckpointFilter(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  const isBuffer = (k: string) => /(^|\.)(relative_position_index|attn_mask)$/.test(k);
  const oldStages = keys.some((k) => k.startsWith("layers.0.downsample."));
  const oldHead = sd.has("head.weight") || sd.has("head.bias");
  if (!oldStages && !oldHead && !keys.some(isBuffer)) return sd;
  const out: StateDict = new Map();
  for (const [key, v] of sd) {
    if (isBuffer(key)) continue;
    let k = key;
    if (oldStages) k = k.replace(/^layers\.(\d+)\.downsample\./, (_m, s: string) => `layers.${Number(s) + 1}.downsample.`);
    if (oldHead) k = k.replace(/^head\.(weight|bias)$/, "head.fc.$1");
    out.set(k, v);
  }
  return out;
}

// ------------------------------------------------------------------ residual units (Table 6)

export const SWIN_UNITS: UnitRules = {
  arch: "swin",
  // The bias table is what tells Swin from ViT (blocks.N, pos_embed), ConvNeXt (stages.N) and
  // AS-MLP (also layers.N.blocks.N, but with axial-shift keys and no attention).
  detect: (keys) => keys.some((k) => /^layers\.\d+\.blocks\.\d+\.attn\.relative_position_bias_table$/.test(k)),
  units: [
    { kind: "attn", pattern: /^layers\.(?<stage>\d+)\.blocks\.(?<block>\d+)\.(norm1|attn)\./, unitName: (s, b) => `layers.${s}.blocks.${b}.attn` },
    { kind: "ffn", pattern: /^layers\.(?<stage>\d+)\.blocks\.(?<block>\d+)\.(norm2|mlp)\./, unitName: (s, b) => `layers.${s}.blocks.${b}.ffn` },
  ],
  roles: [
    [/^patch_embed\./, "patch_embed"],
    [/^layers\.\d+\.downsample\./, "downsample"],
    [/^norm\./, "norm"],
    [/^head\./, "head"],
  ],
  kindOrder: ["attn", "ffn"],
};

// ------------------------------------------------------------------ registered configs

const swin = (name: string, description: string, cfg: Partial<SwinConfig>) =>
  registerModel({ name, arch: "swin", description, create: (o) => new SwinTransformer({ ...cfg, ...definedOnly(o) }) });

registerUnitRules(SWIN_UNITS);
swin("swin_base_patch4_window7_224", "Swin-B (paper, Tables 1, 6-8): 87.8M params", { embedDim: 128, depths: [2, 2, 18, 2], numHeads: [4, 8, 16, 32] });
swin("swin_tiny_patch4_window7_224", "Swin-T: 28.3M params", { embedDim: 96, depths: [2, 2, 6, 2], numHeads: [3, 6, 12, 24] });
// 32x32 RGB: patch 2 -> 16, 8, 4, 2; windows of 4 shift in stages 0-1, cover the map in stages 2-3.
swin("swin_micro_patch2_window4_32", "Swin for 32x32 RGB (CIFAR-like), 4 stages [2,2,6,2]", {
  imageSize: 32, patchSize: 2, embedDim: 32, depths: [2, 2, 6, 2], numHeads: [2, 4, 8, 16], windowSize: 4, numClasses: 10,
});
// 28x28 grayscale: patch 2 -> 14, 7; windows of 7 shift in stage 0 and cover the map in stage 1
// (a third stage would merge an odd 7x7 map, which needs timm >= 1.0's padding).
swin("swin_micro_patch2_window7_28", "Swin for 28x28 grayscale (MNIST-like), 2 stages [2,4]", {
  imageSize: 28, patchSize: 2, inChans: 1, embedDim: 48, depths: [2, 4], numHeads: [3, 6], windowSize: 7, numClasses: 10,
});
// 28x28 grayscale has no four-stage Swin without padding (28 = 4 * 7: the third stage would merge
// an odd 7x7 map), so the four-stage micro takes 32x32 grayscale and the pipeline resizes 28 -> 32
// (src/train/pipeline.ts). Patch 2 -> 16, 8, 4, 2: windows of 4 shift in stages 0-1 and cover the
// map in stages 2-3; the deep stage has 4 blocks, so its attention and FFN groups have several
// units each, as Swin-B's 18 (Table 7's structure).
swin("swin_micro4_patch2_window4_32_gray", "Swin for 32x32 grayscale (28x28 data resized), 4 stages [2,2,4,2], dims 16..128", {
  imageSize: 32, patchSize: 2, inChans: 1, embedDim: 16, depths: [2, 2, 4, 2], numHeads: [2, 4, 8, 8], windowSize: 4, numClasses: 10,
});
