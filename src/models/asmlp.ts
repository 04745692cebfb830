// AS-MLP (Lian et al. 2021, "AS-MLP: An Axial Shifted MLP Architecture for Vision"), as the
// official implementation (github svip-lab/AS-MLP, models/as_mlp.py): a four-stage, Swin-like
// hierarchy of [B, C, H, W] feature maps, where each block is an AS unit (norm1 + axial shift)
// and an MLP unit (norm2 + a 1x1-conv MLP), each residual. AS-MLP is not in timm; parameter
// names are the official code's, so an official checkpoint's `model` state dict loads as is.
//
// Two facts from the official code that the paper's wording hides:
// - Every norm is `MyNorm(dim) = nn.GroupNorm(1, dim)`: one group, so it normalises each sample
//   over (C, H, W) together, with a per-channel affine. The paper's "LayerNorm" (Table 6) is this.
// - The trained checkpoints ran the CUDA Shift kernel; `torch_shift` (pad, chunk, roll, narrow)
//   in shift_cuda.py is its plain-PyTorch equivalent, and the shift here computes the same thing.
//   The released code has no dilation option, so neither has this file.
//
// Order, as in every model file: blocks, the model, the checkpoint filter, the unit rules, configs.
import { Tensor, F, cat, scope, scoped } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Module, Parameter, Linear, Conv2d, GELU, Dropout, DropPath, Identity, ModuleList, truncNormal_, zeros_, type StateDict } from "../nn/index.js";
import { VisionModel } from "./base.js";
import type { UnitRules } from "./catalog.js";
import { registerModel, registerUnitRules, definedOnly } from "./registry.js";

// ------------------------------------------------------------------ blocks

/** torch.nn.GroupNorm over [N, C, H, W]: weight ones, bias zeros, eps 1e-5. */
export class GroupNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5) {
    super();
    if (!Number.isInteger(numGroups) || numGroups <= 0 || numChannels % numGroups !== 0) {
      throw new PftError("argument", `GroupNorm: ${numChannels} channels are not divisible into ${numGroups} groups`);
    }
    this.weight = new Parameter(Tensor.ones([numChannels]));
    this.bias = new Parameter(Tensor.zeros([numChannels]));
  }

  override forward(x: Tensor): Tensor {
    const [n, c] = x.shape;
    if (x.ndim !== 4 || c !== this.numChannels) throw new PftError("shape", `GroupNorm(${this.numChannels}): expected [N, ${this.numChannels}, H, W], got [${x.shape.join(", ")}]`);
    // Each group normalised as one LayerNorm row (biased variance, as GroupNorm), then the per-channel affine.
    const grouped = x.reshape([n, this.numGroups, -1]);
    const normed = F.layerNorm(grouped, [grouped.size(2)], null, null, this.eps).reshape(x.shape);
    return normed.mul(this.weight.value.view([1, c, 1, 1])).add(this.bias.value.view([1, c, 1, 1]));
  }
}

/** The official `MyNorm`: GroupNorm with one group, used for every norm in AS-MLP. */
export const myNorm = (dim: number): GroupNorm => new GroupNorm(1, dim);

/**
 * The axial shift of the official `torch_shift(x, shiftSize, dim)`: channels are split into
 * `shiftSize` chunks (torch.chunk sizes) and chunk g is moved by g - shiftSize//2 positions along
 * `dim` (2: H, 3: W), zero-filled: out[.., i, ..] = x[.., i + shiftSize//2 - g, ..]. The source
 * pads, rolls and narrows; narrowing the padded map at 2*pad - g is the same, without the roll.
 */
export function axialShift(x: Tensor, shiftSize: number, dim: 2 | 3): Tensor {
  if (shiftSize === 1) return x;
  const pad = Math.floor(shiftSize / 2);
  const len = x.size(dim);
  return scope(() => {
    const padded = x.pad(dim === 3 ? [pad, pad] : [0, 0, pad, pad]);
    return cat(padded.chunk(shiftSize, 1).map((xc, g) => xc.narrow(dim, 2 * pad - g, len)), 1);
  });
}

/** The MLP of the official code: 1x1 convolutions on [B, C, H, W]; one dropout after each. */
export class Mlp extends Module {
  readonly fc1: Conv2d;
  readonly act: GELU;
  readonly fc2: Conv2d;
  readonly drop: Dropout;
  constructor(inFeatures: number, hidden: number, drop = 0) {
    super();
    this.fc1 = new Conv2d(inFeatures, hidden, 1);
    this.act = new GELU();
    this.fc2 = new Conv2d(hidden, inFeatures, 1);
    this.drop = new Dropout(drop);
  }
  override forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc2.forward(this.drop.forward(this.act.forward(this.fc1.forward(x)))));
  }
}

/** The AS module: conv1, norm, GELU, shifts along W and H, conv2_1 / conv2_2, GELU, sum, norm, conv3. */
export class AxialShift extends Module {
  readonly conv1: Conv2d;
  readonly conv2_1: Conv2d;
  readonly conv2_2: Conv2d;
  readonly conv3: Conv2d;
  readonly actn: GELU;
  readonly norm1: GroupNorm;
  readonly norm2: GroupNorm;

  constructor(readonly dim: number, readonly shiftSize: number, asBias = true) {
    super();
    if (!Number.isInteger(shiftSize) || shiftSize < 1 || shiftSize % 2 !== 1) throw new PftError("config", `AS-MLP: shift size must be a positive odd integer, got ${shiftSize}`);
    this.conv1 = new Conv2d(dim, dim, 1, { bias: asBias });
    this.conv2_1 = new Conv2d(dim, dim, 1, { bias: asBias });
    this.conv2_2 = new Conv2d(dim, dim, 1, { bias: asBias });
    this.conv3 = new Conv2d(dim, dim, 1, { bias: asBias });
    this.actn = new GELU();
    this.norm1 = myNorm(dim);
    this.norm2 = myNorm(dim);
  }

  override forward(x: Tensor): Tensor {
    const h = this.actn.forward(this.norm1.forward(this.conv1.forward(x)));
    const lr = this.actn.forward(this.conv2_1.forward(axialShift(h, this.shiftSize, 3)));
    const td = this.actn.forward(this.conv2_2.forward(axialShift(h, this.shiftSize, 2)));
    return this.conv3.forward(this.norm2.forward(lr.add(td)));
  }
}

export interface BlockOptions {
  shiftSize: number;
  mlpRatio: number;
  asBias: boolean;
  drop: number;
  dropPath: number;
}

/** The official AxialShiftedBlock; one drop_path serves both residual branches, as there. */
export class AxialShiftedBlock extends Module {
  readonly norm1: GroupNorm;
  readonly axial_shift: AxialShift;
  readonly drop_path: Module;
  readonly norm2: GroupNorm;
  readonly mlp: Mlp;

  constructor(dim: number, o: BlockOptions) {
    super();
    this.norm1 = myNorm(dim);
    this.axial_shift = new AxialShift(dim, o.shiftSize, o.asBias);
    this.drop_path = o.dropPath > 0 ? new DropPath(o.dropPath) : new Identity();
    this.norm2 = myNorm(dim);
    this.mlp = new Mlp(dim, Math.trunc(dim * o.mlpRatio), o.drop);
  }

  /** The AS unit's residual branch (norm1 + AS module). */
  @scoped
  asBranch(x: Tensor): Tensor {
    return this.drop_path.forward(this.axial_shift.forward(this.norm1.forward(x)));
  }
  /** The MLP unit's residual branch (norm2 + MLP). */
  @scoped
  mlpBranch(x: Tensor): Tensor {
    return this.drop_path.forward(this.mlp.forward(this.norm2.forward(x)));
  }

  override forward(x: Tensor): Tensor {
    const h = x.add(this.asBranch(x));
    return h.add(this.mlpBranch(h));
  }
}

/** 2x2 neighbours stacked on channels (x0 x1 x2 x3 as the source), norm(4C), 1x1 conv to 2C without bias. */
export class PatchMerging extends Module {
  readonly reduction: Conv2d;
  readonly norm: GroupNorm;

  constructor(readonly dim: number) {
    super();
    this.reduction = new Conv2d(4 * dim, 2 * dim, 1, { bias: false });
    this.norm = myNorm(4 * dim);
  }

  override forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    if (h % 2 !== 0 || w % 2 !== 0) throw new PftError("shape", `AS-MLP patch merging: feature map ${h}x${w} is not even`);
    const at = (dh: number, dw: number) => x.slice(2, dh, null, 2).slice(3, dw, null, 2);
    return this.reduction.forward(this.norm.forward(cat([at(0, 0), at(1, 0), at(0, 1), at(1, 1)], 1)));
  }
}

/** One stage (the official BasicLayer): blocks, then patch merging except in the last stage. */
export class BasicLayer extends Module {
  readonly blocks: ModuleList<AxialShiftedBlock>;
  readonly downsample: PatchMerging | null;

  constructor(dim: number, dropPaths: number[], o: Omit<BlockOptions, "dropPath">, downsample: boolean) {
    super();
    this.blocks = new ModuleList(dropPaths.map((dp) => new AxialShiftedBlock(dim, { ...o, dropPath: dp })));
    this.downsample = downsample ? new PatchMerging(dim) : null;
  }

  override forward(x: Tensor): Tensor {
    let h = x;
    for (const blk of this.blocks) h = blk.forward(h);
    return this.downsample ? this.downsample.forward(h) : h;
  }
}

/** Non-overlapping patchSize x patchSize convolution, then the norm (patch_norm). Output [B, D, H/p, W/p]. */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  readonly norm: GroupNorm | null;

  constructor(readonly patchSize: number, inChans: number, embedDim: number, patchNorm: boolean) {
    super();
    this.proj = new Conv2d(inChans, embedDim, patchSize, { stride: patchSize });
    this.norm = patchNorm ? myNorm(embedDim) : null;
  }

  override forward(x: Tensor): Tensor {
    const h = this.proj.forward(x);
    return this.norm ? this.norm.forward(h) : h;
  }
}

// ------------------------------------------------------------------ the model

export interface AsMlpConfig {
  imageSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  /** Channels of stage 0; stage s has embedDim * 2^s. */
  embedDim: number;
  /** Blocks per stage; patch merging sits at the end of every stage but the last. */
  depths: number[];
  /** Odd number of channel chunks, each shifted by a different offset (-s//2 .. s//2). */
  shiftSize: number;
  mlpRatio: number;
  /** Bias on the AS module's 1x1 convolutions. */
  asBias: boolean;
  /** Norm after the patch embedding. */
  patchNorm: boolean;
  dropRate: number;
  /**
   * Stochastic depth, linearly increasing to this rate over all blocks. The official default is
   * 0.1; its ImageNet pretraining used 0.2 (T), 0.3 (S), 0.5 (B). 0 here, as the other families.
   */
  dropPathRate: number;
}

/** The official AS_MLP defaults (AS-MLP-T's sizes) with the released configs' shift size 5. */
export const ASMLP_DEFAULTS: AsMlpConfig = {
  imageSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  shiftSize: 5,
  mlpRatio: 4,
  asBias: true,
  patchNorm: true,
  dropRate: 0,
  dropPathRate: 0,
};

export class AsMlp extends VisionModel {
  readonly arch = "asmlp";
  readonly cfg: AsMlpConfig;
  readonly patch_embed: PatchEmbed;
  readonly pos_drop: Dropout;
  readonly layers: ModuleList<BasicLayer>;
  readonly norm: GroupNorm;
  head: Linear | Identity;
  readonly numFeatures: number;

  constructor(config: Partial<AsMlpConfig> = {}) {
    super();
    const c = (this.cfg = { ...ASMLP_DEFAULTS, ...config, depths: [...(config.depths ?? ASMLP_DEFAULTS.depths)] });
    const stages = c.depths.length;
    const grid = c.imageSize / c.patchSize;
    if (stages < 1 || c.depths.some((d) => !Number.isInteger(d) || d < 1)) throw new PftError("config", `AS-MLP: depths must be positive integers, got [${c.depths.join(", ")}]`);
    if (!Number.isInteger(grid) || grid % 2 ** (stages - 1) !== 0) {
      throw new PftError("config", `AS-MLP: image size ${c.imageSize} / patch size ${c.patchSize} must be a multiple of ${2 ** (stages - 1)} (${stages - 1} patch mergings)`);
    }
    this.numFeatures = c.embedDim * 2 ** (stages - 1);
    this.patch_embed = new PatchEmbed(c.patchSize, c.inChans, c.embedDim, c.patchNorm);
    this.pos_drop = new Dropout(c.dropRate);
    const total = c.depths.reduce((a, b) => a + b, 0);
    // torch.linspace(0, rate, total), split by stage.
    const rates = Array.from({ length: total }, (_, i) => (total > 1 ? (c.dropPathRate * i) / (total - 1) : 0));
    let at = 0;
    this.layers = new ModuleList(
      c.depths.map((depth, s) => {
        const dpr = rates.slice(at, (at += depth));
        return new BasicLayer(c.embedDim * 2 ** s, dpr, { shiftSize: c.shiftSize, mlpRatio: c.mlpRatio, asBias: c.asBias, drop: c.dropRate }, s < stages - 1);
      }),
    );
    this.norm = myNorm(this.numFeatures);
    this.head = c.numClasses > 0 ? this.newHead(c.numClasses) : new Identity();
  }

  /** The official _init_weights touches only Linear layers (the head): trunc_normal(.02), zero bias. Convs keep PyTorch's default. */
  private newHead(numClasses: number): Linear {
    const head = new Linear(this.numFeatures, numClasses);
    truncNormal_(head.weight, { std: 0.02 });
    if (head.bias) zeros_(head.bias);
    return head;
  }

  /** Patch embedding, the stages and the final norm: [B, C, H, W] -> [B, D, H/32, W/32] for four stages. */
  @scoped
  forwardFeatures(x: Tensor): Tensor {
    let h = this.pos_drop.forward(this.patch_embed.forward(x));
    for (const layer of this.layers) h = layer.forward(h);
    return this.norm.forward(h);
  }

  /** Global average pooling (the official AdaptiveAvgPool2d(1) + flatten) and the head. */
  @scoped
  forwardHead(h: Tensor): Tensor {
    return this.head.forward(h.mean([2, 3]));
  }

  resetClassifier(numClasses: number): void {
    const old = this.head;
    this.head = numClasses > 0 ? this.newHead(numClasses) : new Identity();
    this.cfg.numClasses = numClasses;
    old.dispose();
  }

  classifierKeys(): string[] {
    return ["head.weight", "head.bias"];
  }

  unitRules(): UnitRules {
    return ASMLP_UNITS;
  }

  override checkpointFilter(sd: StateDict): StateDict {
    return asMlpCheckpointFilter(sd);
  }
}

// ------------------------------------------------------------------ checkpoint filter

/**
 * The official checkpoints (`{"model": state_dict, ...}`, saved from the unwrapped model) use
 * exactly this file's names, and nothing depends on the input size, so there is nothing to remap.
 */
export function asMlpCheckpointFilter(sd: StateDict): StateDict {
  return sd;
}

// ------------------------------------------------------------------ residual units (Table 6)

export const ASMLP_UNITS: UnitRules = {
  arch: "asmlp",
  detect: (keys) => keys.some((k) => /^layers\.\d+\.blocks\.\d+\.axial_shift\.conv1\.weight$/.test(k)),
  units: [
    { kind: "as", pattern: /^layers\.(?<stage>\d+)\.blocks\.(?<block>\d+)\.(norm1|axial_shift)\./, unitName: (s, b) => `layers.${s}.blocks.${b}.as` },
    { kind: "mlp", pattern: /^layers\.(?<stage>\d+)\.blocks\.(?<block>\d+)\.(norm2|mlp)\./, unitName: (s, b) => `layers.${s}.blocks.${b}.mlp` },
  ],
  roles: [
    [/^patch_embed\./, "patch_embed"],
    [/^layers\.\d+\.downsample\./, "downsample"],
    [/^norm\./, "norm"],
    [/^head\./, "head"],
  ],
  kindOrder: ["as", "mlp"],
};

// ------------------------------------------------------------------ registered configs

const asmlp = (name: string, description: string, cfg: Partial<AsMlpConfig>) =>
  registerModel({ name, arch: "asmlp", description, create: (o) => new AsMlp({ ...cfg, ...definedOnly(o) }) });

registerUnitRules(ASMLP_UNITS);
asmlp("asmlp_base", "AS-MLP-B (paper, Tables 1, 6-8): 87,752,808 params with 1000 classes, 86,830,308 with 100", { embedDim: 128, depths: [2, 2, 18, 2], shiftSize: 5 });
asmlp("asmlp_small", "AS-MLP-S (official config, 49.6M params)", { embedDim: 96, depths: [2, 2, 18, 2], shiftSize: 5 });
asmlp("asmlp_tiny", "AS-MLP-T (official config, 28.3M params)", { embedDim: 96, depths: [2, 2, 6, 2], shiftSize: 5 });
// Small variants that train on 2 CPU cores. 32x32 RGB: patch 2 keeps four stages (16, 8, 4, 2
// pixels a side, the same 8 homogeneous groups as AS-MLP-B); shift 3, since shifts of +-2 would
// empty most of a 2x2 map.
asmlp("asmlp_nano_patch2_32", "AS-MLP for 32x32 RGB: 4 stages at 16..2 px, dims 32..256, shift 3, 8 groups (3.08M params)", {
  imageSize: 32, patchSize: 2, embedDim: 32, depths: [2, 2, 6, 2], shiftSize: 3, numClasses: 10,
});
// 28x28 grayscale (MNIST-like): 28 = 4 * 7 allows one patch merging after a patch-2 stem (14, 7
// pixels a side); the 7x7 last stage with shift 5 is AS-MLP-B's own last stage geometry.
asmlp("asmlp_micro_patch2_28", "AS-MLP for 28x28 grayscale: 2 stages at 14 and 7 px, dims 48, 96, shift 5, 4 groups (0.53M params)", {
  imageSize: 28, patchSize: 2, inChans: 1, embedDim: 48, depths: [2, 4], shiftSize: 5, numClasses: 10,
});
// Four stages for 28x28 grayscale data: as for Swin, 28 allows only two patch mergings, so this one
// takes 32x32 grayscale (the pipeline resizes 28 -> 32): maps 16, 8, 4, 2 with shift 3 (as the
// nano's), and a 4-block deep stage, so its AS and MLP groups have several units each.
asmlp("asmlp_micro4_patch2_32_gray", "AS-MLP for 32x32 grayscale (28x28 data resized): 4 stages [2,2,4,2] at 16..2 px, dims 16..128, shift 3, 8 groups", {
  imageSize: 32, patchSize: 2, inChans: 1, embedDim: 16, depths: [2, 2, 4, 2], shiftSize: 3, numClasses: 10,
});
