// Vision Transformer (Dosovitskiy et al. 2020), as timm's vision_transformer.py: pre-LN blocks,
// fused qkv, cls token, learned position embedding, optional global average pooling.
// Parameter names are timm's, so a timm ViT state dict loads with strict checking.
//
// Order, as in every model file: blocks, the model, the checkpoint filter, the unit rules, configs.
import { Tensor, F, cat, scope, scoped } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Module, Parameter, Linear, LayerNorm, Conv2d, Dropout, DropPath, Identity, ModuleList, truncNormal_, normal_, zeros_, type StateDict } from "../nn/index.js";
import { VisionModel, type Segment } from "./base.js";
import type { UnitRules } from "./catalog.js";
import { registerModel, registerUnitRules, definedOnly } from "./registry.js";

// ------------------------------------------------------------------ blocks

export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(readonly patchSize: number, inChans: number, embedDim: number) {
    super();
    this.proj = new Conv2d(inChans, embedDim, patchSize, { stride: patchSize });
  }
  /** [B, C, H, W] -> [B, N, D] */
  override forward(x: Tensor): Tensor {
    return this.proj.forward(x).flatten(2).transpose(1, 2);
  }
}

export class Attention extends Module {
  readonly qkv: Linear;
  readonly attn_drop: Dropout;
  readonly proj: Linear;
  readonly proj_drop: Dropout;
  readonly headDim: number;

  constructor(readonly dim: number, readonly numHeads: number, opts: { qkvBias?: boolean; attnDrop?: number; projDrop?: number } = {}) {
    super();
    if (dim % numHeads !== 0) throw new PftError("config", `ViT: dim ${dim} is not divisible by ${numHeads} heads`);
    this.headDim = dim / numHeads;
    this.qkv = new Linear(dim, dim * 3, { bias: opts.qkvBias ?? true });
    this.attn_drop = new Dropout(opts.attnDrop ?? 0);
    this.proj = new Linear(dim, dim);
    this.proj_drop = new Dropout(opts.projDrop ?? 0);
  }

  override forward(x: Tensor): Tensor {
    const dropout = this.attn_drop.training ? this.attn_drop.p : 0;
    const out = F.attention(this.qkv.forward(x), this.numHeads, { dropout });
    return this.proj_drop.forward(this.proj.forward(out));
  }
}

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly drop1: Dropout;
  readonly fc2: Linear;
  readonly drop2: Dropout;
  constructor(inFeatures: number, hidden: number, drop = 0) {
    super();
    this.fc1 = new Linear(inFeatures, hidden);
    this.drop1 = new Dropout(drop);
    this.fc2 = new Linear(hidden, inFeatures);
    this.drop2 = new Dropout(drop);
  }
  override forward(x: Tensor): Tensor {
    return this.drop2.forward(this.fc2.forward(this.drop1.forward(this.fc1.forward(x).gelu())));
  }
}

/** Per-channel scale (CaiT/DeiT-III layer scale), timm's `ls1.gamma`. */
export class LayerScale extends Module {
  readonly gamma: Parameter;
  constructor(dim: number, initValues: number) {
    super();
    this.gamma = new Parameter(Tensor.full([dim], initValues));
  }
  override forward(x: Tensor): Tensor {
    return x.mul(this.gamma.value);
  }
}

export interface BlockOptions {
  mlpRatio: number;
  qkvBias: boolean;
  drop: number;
  attnDrop: number;
  dropPath: number;
  /** Layer-scale init (null: no layer scale). */
  initValues: number | null;
}

export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly ls1: Module;
  readonly drop_path1: Module;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly ls2: Module;
  readonly drop_path2: Module;

  constructor(dim: number, numHeads: number, o: BlockOptions) {
    super();
    this.norm1 = new LayerNorm(dim, { eps: 1e-6, feedsLinear: true });
    this.attn = new Attention(dim, numHeads, { qkvBias: o.qkvBias, attnDrop: o.attnDrop, projDrop: o.drop });
    this.ls1 = o.initValues !== null ? new LayerScale(dim, o.initValues) : new Identity();
    this.drop_path1 = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
    this.norm2 = new LayerNorm(dim, { eps: 1e-6, feedsLinear: true });
    this.mlp = new Mlp(dim, Math.round(dim * o.mlpRatio), o.drop);
    this.ls2 = o.initValues !== null ? new LayerScale(dim, o.initValues) : new Identity();
    this.drop_path2 = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
  }

  /** The attention unit's residual branch (norm1 + MSA). */
  @scoped
  attnBranch(x: Tensor): Tensor {
    return this.drop_path1.forward(this.ls1.forward(this.attn.forward(this.norm1.forward(x))));
  }
  /** The FFN unit's residual branch (norm2 + MLP). */
  @scoped
  ffnBranch(x: Tensor): Tensor {
    return this.drop_path2.forward(this.ls2.forward(this.mlp.forward(this.norm2.forward(x))));
  }

  override forward(x: Tensor): Tensor {
    const h = x.add(this.attnBranch(x));
    return h.add(this.ffnBranch(h));
  }
}

// ------------------------------------------------------------------ the model

export interface VitConfig {
  imageSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** "token" pools the cls token; "avg" averages patch tokens and uses fc_norm (timm). */
  globalPool: "token" | "avg";
  classToken: boolean;
  initValues: number | null;
  dropRate: number;
  attnDropRate: number;
  /** Stochastic depth, linearly increasing to this rate over the blocks (0.1+ when fine-tuning). */
  dropPathRate: number;
}

export const VIT_DEFAULTS: VitConfig = {
  imageSize: 224,
  patchSize: 16,
  inChans: 3,
  numClasses: 1000,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  qkvBias: true,
  globalPool: "token",
  classToken: true,
  initValues: null,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0,
};

export class VisionTransformer extends VisionModel {
  readonly arch = "vit";
  readonly cfg: VitConfig;
  readonly cls_token: Parameter | null;
  readonly pos_embed: Parameter;
  readonly patch_embed: PatchEmbed;
  readonly pos_drop: Dropout;
  readonly blocks: ModuleList<Block>;
  readonly norm: Module;
  readonly fc_norm: Module;
  readonly head_drop: Dropout;
  head: Linear | Identity;

  constructor(config: Partial<VitConfig> = {}) {
    super();
    const c = (this.cfg = { ...VIT_DEFAULTS, ...config });
    if (c.imageSize % c.patchSize !== 0) throw new PftError("config", `ViT: image size ${c.imageSize} is not a multiple of patch size ${c.patchSize}`);
    const numPatches = (c.imageSize / c.patchSize) ** 2;
    const prefix = c.classToken ? 1 : 0;
    this.patch_embed = new PatchEmbed(c.patchSize, c.inChans, c.embedDim);
    this.cls_token = c.classToken ? new Parameter(Tensor.zeros([1, 1, c.embedDim])) : null;
    this.pos_embed = new Parameter(Tensor.zeros([1, numPatches + prefix, c.embedDim]));
    this.pos_drop = new Dropout(c.dropRate);
    const rates = Array.from({ length: c.depth }, (_, i) => (c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : 0));
    this.blocks = new ModuleList(
      rates.map((dp) => new Block(c.embedDim, c.numHeads, { mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, drop: c.dropRate, attnDrop: c.attnDropRate, dropPath: dp, initValues: c.initValues })),
    );
    const useFcNorm = c.globalPool === "avg";
    this.norm = useFcNorm ? new Identity() : new LayerNorm(c.embedDim, { eps: 1e-6 });
    this.fc_norm = useFcNorm ? new LayerNorm(c.embedDim, { eps: 1e-6 }) : new Identity();
    this.head_drop = new Dropout(c.dropRate);
    this.head = c.numClasses > 0 ? new Linear(c.embedDim, c.numClasses) : new Identity();
    this.initWeights();
  }

  /** timm's default init: trunc_normal(.02) for pos_embed and Linear weights, tiny cls token. */
  private initWeights(): void {
    truncNormal_(this.pos_embed, { std: 0.02 });
    if (this.cls_token) normal_(this.cls_token, 0, 1e-6);
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        truncNormal_(m.weight, { std: 0.02 });
        if (m.bias) zeros_(m.bias);
      }
    }
  }

  /** Patch embedding + cls token + position embedding: [B, C, H, W] -> [B, N(+1), D]. */
  @scoped
  embed(x: Tensor): Tensor {
    let h = this.patch_embed.forward(x);
    if (this.cls_token) h = cat([this.cls_token.value.expand([h.size(0), 1, this.cfg.embedDim]), h], 1);
    return this.pos_drop.forward(h.add(this.pos_embed.value));
  }

  @scoped
  forwardFeatures(x: Tensor): Tensor {
    let h = this.embed(x);
    for (const blk of this.blocks) h = blk.forward(h);
    return this.norm.forward(h);
  }

  @scoped
  forwardHead(h: Tensor): Tensor {
    const prefix = this.cls_token ? 1 : 0;
    const pooled = this.cfg.globalPool === "avg" ? h.slice(1, prefix).mean(1) : h.select(1, 0);
    return this.head.forward(this.head_drop.forward(this.fc_norm.forward(pooled)));
  }

  /** Embedding, then every attention and FFN unit (each a residual step), then the head. */
  override segments(): Segment[] {
    const params = (...ms: Module[]) => ms.flatMap((m) => m.parameters());
    const tokens = [this.pos_embed, ...(this.cls_token ? [this.cls_token] : [])];
    const segs: Segment[] = [{ name: "embed", parameters: [...params(this.patch_embed), ...tokens], run: (x) => this.embed(x) }];
    [...this.blocks].forEach((blk, i) => {
      segs.push({ name: `blocks.${i}.attn`, parameters: params(blk.norm1, blk.attn, blk.ls1), run: (h) => scope(() => h.add(blk.attnBranch(h))) });
      segs.push({ name: `blocks.${i}.ffn`, parameters: params(blk.norm2, blk.mlp, blk.ls2), run: (h) => scope(() => h.add(blk.ffnBranch(h))) });
    });
    segs.push({ name: "head", parameters: params(this.norm, this.fc_norm, this.head), run: (h) => this.forwardHead(this.norm.forward(h)) });
    return segs;
  }

  resetClassifier(numClasses: number): void {
    const old = this.head;
    const head = numClasses > 0 ? new Linear(this.cfg.embedDim, numClasses) : new Identity();
    if (head instanceof Linear) {
      truncNormal_(head.weight, { std: 0.02 });
      if (head.bias) zeros_(head.bias);
    }
    this.head = head;
    this.cfg.numClasses = numClasses;
    old.dispose();
  }

  classifierKeys(): string[] {
    return ["head.weight", "head.bias"];
  }

  override noWeightDecay(): Set<string> {
    return new Set(["pos_embed", "cls_token", "dist_token"]);
  }

  unitRules(): UnitRules {
    return VIT_UNITS;
  }

  override checkpointFilter(sd: StateDict): StateDict {
    return vitCheckpointFilter(sd, this);
  }
}

// ------------------------------------------------------------------ checkpoint filter

/**
 * timm's checkpoint_filter_fn, the parts that matter here: a position embedding for another grid
 * size is resized (bicubic, as timm's resample_abs_pos_embed) to this model's grid.
 */
export function vitCheckpointFilter(sd: StateDict, model: VisionTransformer): StateDict {
  const pe = sd.get("pos_embed");
  const want = model.pos_embed.shape;
  if (!pe || pe.ndim !== 3 || (pe.size(1) === want[1] && pe.size(2) === want[2])) return sd;
  const prefix = model.cls_token ? 1 : 0;
  const oldSide = Math.round(Math.sqrt(pe.size(1) - prefix));
  const newSide = Math.round(Math.sqrt(want[1] - prefix));
  if (oldSide * oldSide !== pe.size(1) - prefix || pe.size(2) !== want[2]) return sd; // leave it to loadStateDict to report
  const resized = scope(() => {
    const dim = pe.size(2);
    const grid = pe.slice(1, prefix).reshape([1, oldSide, oldSide, dim]).permute([0, 3, 1, 2]).float();
    const out = F.interpolate(grid, [newSide, newSide], "bicubic").permute([0, 2, 3, 1]).reshape([1, newSide * newSide, dim]);
    return prefix ? cat([pe.slice(1, 0, prefix).float(), out], 1) : out;
  });
  const next = new Map(sd);
  next.set("pos_embed", resized);
  return next;
}

// ------------------------------------------------------------------ residual units (Table 6)

export const VIT_UNITS: UnitRules = {
  arch: "vit",
  detect: (keys) => keys.includes("pos_embed") && keys.some((k) => /^blocks\.\d+\.attn\.qkv\.weight$/.test(k)),
  units: [
    { kind: "attn", pattern: /^blocks\.(?<block>\d+)\.(norm1|attn|ls1)\./, unitName: (_s, b) => `blocks.${b}.attn` },
    { kind: "ffn", pattern: /^blocks\.(?<block>\d+)\.(norm2|mlp|ls2)\./, unitName: (_s, b) => `blocks.${b}.ffn` },
  ],
  roles: [
    [/^patch_embed\./, "patch_embed"],
    [/^pos_embed$/, "pos_embed"],
    [/^(cls_token|dist_token|reg_token)$/, "cls_token"],
    [/^(norm|fc_norm)\./, "norm"],
    [/^head\./, "head"],
  ],
  kindOrder: ["attn", "ffn"],
};

// ------------------------------------------------------------------ registered configs

const vit = (name: string, description: string, cfg: Partial<VitConfig>) =>
  registerModel({ name, arch: "vit", description, create: (o) => new VisionTransformer({ ...cfg, ...definedOnly(o) }) });

registerUnitRules(VIT_UNITS);
vit("vit_base_patch16_224", "ViT-B/16 (paper, Table 1)", { embedDim: 768, depth: 12, numHeads: 12 });
vit("vit_small_patch16_224", "ViT-S/16", { embedDim: 384, depth: 12, numHeads: 6 });
vit("vit_tiny_patch16_224", "ViT-Ti/16", { embedDim: 192, depth: 12, numHeads: 3 });
vit("vit_tiny_patch4_32", "ViT for 32x32 RGB (2.7M params, the engine benchmark's size)", { imageSize: 32, patchSize: 4, embedDim: 192, depth: 6, numHeads: 3, numClasses: 10 });
vit("vit_micro_patch4_28", "ViT for 28x28 grayscale (MNIST-like), trains in minutes on 2 cores", { imageSize: 28, patchSize: 4, inChans: 1, embedDim: 96, depth: 6, numHeads: 3, numClasses: 10 });
