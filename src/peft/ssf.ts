// SSF (Lian et al. 2022, "Scaling & Shifting your Features"): a learnable per-channel scale and
// shift, y = x * scale + shift, after each operation of a block, where the official code
// (dongzelian/SSF, models/) puts them. Scale starts at N(1, 0.02), shift at N(0, 0.02).
//
// ViT (and Swin, same layer names): the patch-embedding projection (and Swin's patch-embedding
// norm), norm1, qkv, the attention projection, norm2, fc1 and fc2 in every block, and the final
// norm. ViT-B/16 (2 * channels per site): patch embed 1,536; per block norm1 1,536 + qkv 4,608 +
// proj 1,536 + norm2 1,536 + fc1 6,144 + fc2 1,536 = 16,896, x12 = 202,752; final norm 1,536:
// 205,824, plus the head: 282,724 = 0.28M with 100 classes, 974,824 = 0.97M with 1000 (Table 1).
//
// ConvNeXt (official convnext.py): the stem's conv and LayerNorm2d; per block conv_dw, norm, fc1,
// fc2; per downsampling its LayerNorm2d and its conv. The official code also scales the last
// stage's output before the head's pool and LayerNorm; that one is left out: a per-channel affine
// before a LayerNorm does not fold into any weight (the merged model could not equal the
// unmerged one), and Table 1's ConvNeXt-B entries are the counts without it: 2 * (256 + 7 * 18,048
// + 2,688) = 258,560 (+ 2,048 with it), plus the head: 361,060 = 0.36M with 100 classes,
// 1,283,560 = 1.28M with 1000 (with it: 1,285,608 = 1.29M).
//
// AS-MLP (official as_mlp.py): the patch embedding's conv and norm; per block norm1, the axial
// shift's conv1, conv2_1, conv2_2 and conv3, norm2, fc1 and fc2 (not the axial shift's inner
// GroupNorms); every patch merging's norm; the final norm. AS-MLP-B: 2 * (256 + 11 * 12,032 +
// 4 * 896 + 1,024) = 274,432, plus the head: 376,932 with 100 classes, which Table 1 gives as
// 0.37M (every placement of the official code is kept; dropping any one site would give 0.37M).
//
// Each site is followed by nothing but the scale, so the scale and shift fold into the layer
// (re-parameterisation): W' = diag(scale) W, b' = scale * b + shift for Linear, Conv2d (per
// output channel) and the norms (LayerNorm, LayerNorm2d, GroupNorm: their per-channel affine
// weight and bias). merge() does that and puts the original layers back: the merged model is a
// plain model with the same output.
//
// Module surgery: each site is replaced by a stand-in keeping its keys and adding
// `<site>.ssf_scale` and `<site>.ssf_shift` (`blocks.3.attn.qkv.ssf_scale`).
import { Tensor, F, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import { detectArch, type VisionModel } from "../models/index.js";
import { GroupNorm } from "../models/asmlp.js";
import { Conv2d, LayerNorm, LayerNorm2d, Linear, Module, Parameter, normal_ } from "../nn/index.js";
import { checkPlain, surgeryPeft, type Peft } from "./peft.js";
import { StandIn, findModules, standIns } from "./surgery.js";

/**
 * Where SSF goes, per family, as module paths; only layers with a per-channel affine output
 * (Linear, Conv2d, a norm) are wrapped, so an Identity `norm` (average-pooling ViTs) is skipped.
 * Swin takes ViT's sites (plus its patch-embedding norm; not the patch merging layers), which give
 * Table 1's Swin-B counts too: 0.37M (100 classes) and 1.29M (1000).
 */
export const SSF_SITES_BY_ARCH: Readonly<Record<string, readonly RegExp[]>> = {
  vit: [/^patch_embed\.(proj|norm)$/, /(^|\.)blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$/, /^(norm|fc_norm)$/],
  swin: [/^patch_embed\.(proj|norm)$/, /^layers\.\d+\.blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$/, /^norm$/],
  convnext: [/^stem\.[01]$/, /^stages\.\d+\.downsample\.[01]$/, /^stages\.\d+\.blocks\.\d+\.(conv_dw|norm|mlp\.fc1|mlp\.fc2)$/],
  asmlp: [
    /^patch_embed\.(proj|norm)$/,
    /^layers\.\d+\.blocks\.\d+\.(norm1|norm2|axial_shift\.conv1|axial_shift\.conv2_1|axial_shift\.conv2_2|axial_shift\.conv3|mlp\.fc1|mlp\.fc2)$/,
    /^layers\.\d+\.downsample\.norm$/,
    /^norm$/,
  ],
};

/** ViT's sites (the historical export). */
export const SSF_SITES: readonly RegExp[] = SSF_SITES_BY_ARCH.vit;

const sitesOf = (arch: string): readonly RegExp[] => {
  const sites = SSF_SITES_BY_ARCH[arch];
  if (!sites) throw new PftError("config", `ssf: implemented for ${Object.keys(SSF_SITES_BY_ARCH).join(", ")}, not ${arch}`);
  return sites;
};

type Affine = Linear | Conv2d | LayerNorm | GroupNorm;
const isAffine = (m: Module): m is Affine => m instanceof Linear || m instanceof Conv2d || m instanceof LayerNorm || m instanceof GroupNorm;
/** Layers whose output is [B, C, H, W] (the others have channels last). */
const channelsFirst = (m: Module): boolean => m instanceof Conv2d || m instanceof LayerNorm2d || m instanceof GroupNorm;

/** A layer followed by a learnable per-channel scale and shift. */
export class SsfScaled extends StandIn<Affine> {
  readonly ssf_scale: Parameter;
  readonly ssf_shift: Parameter;
  constructor(layer: Affine) {
    super(layer);
    const channels = layer.weight.shape[0];
    this.ssf_scale = normal_(new Parameter(Tensor.empty([channels])), 1, 0.02);
    this.ssf_shift = normal_(new Parameter(Tensor.empty([channels])), 0, 0.02);
  }

  #channelShape(): number[] {
    return channelsFirst(this.base) ? [-1, 1, 1] : [-1];
  }

  override forward(x: Tensor): Tensor {
    return scope(() => {
      // The scale now sits between a block's norm and its linear, so a norm made for feeding
      // the linear directly keeps its float32 output under autocast.
      const base = this.base;
      const y = base instanceof LayerNorm && !(base instanceof LayerNorm2d) && base.feedsLinear ? F.layerNorm(x, [base.dim], base.weight.value, base.bias.value, base.eps) : this.baseForward(x);
      const shape = this.#channelShape();
      return y.mul(this.ssf_scale.value.reshape(shape)).add(this.ssf_shift.value.reshape(shape));
    });
  }

  ownParameters(): Parameter[] {
    return [this.ssf_scale, this.ssf_shift];
  }

  /** W' = diag(scale) W (per output channel), b' = scale * b + shift; call under noGrad. */
  fold(): void {
    const { weight, bias } = this.base;
    if (!bias) throw new PftError("config", `ssf: cannot merge into a ${this.base.constructor.name} without a bias`);
    scope(() => {
      const s = this.ssf_scale.value;
      weight.value.mul_(s.reshape([-1, ...new Array<number>(weight.shape.length - 1).fill(1)]));
      bias.value.mul_(s).add_(this.ssf_shift.value);
    });
  }
}

export function applySsf(model: VisionModel): Peft {
  const patterns = sitesOf(model.arch);
  checkPlain(model, "ssf");
  const sites = findModules(model, patterns).filter((s) => isAffine(s.module)).map((s) => s.name);
  if (sites.length === 0) throw new PftError("config", `ssf: ${model.arch} has none of the layers SSF scales (patch_embed.proj, blocks.N.{norm1,attn.qkv,...}, norm)`);
  const placed = standIns(model, sites, (m) => new SsfScaled(m as Affine));
  return surgeryPeft({ method: "ssf" }, model, placed, (s) => s.fold());
}

/**
 * The parameters applySsf adds, from the base model's parameter names and shapes alone: every
 * site with a `weight` (the layer's output channels are its first dimension).
 */
export function ssfShapes(shapes: ReadonlyMap<string, readonly number[]>): Map<string, number[]> {
  const patterns = sitesOf(detectArch([...shapes.keys()]).arch);
  const out = new Map<string, number[]>();
  for (const [key, shape] of shapes) {
    const m = /^(.*)\.weight$/.exec(key);
    if (!m || !patterns.some((re) => re.test(m[1]))) continue;
    out.set(`${m[1]}.ssf_scale`, [shape[0]]);
    out.set(`${m[1]}.ssf_shift`, [shape[0]]);
  }
  if (out.size === 0) throw new PftError("config", "ssf: the model has none of the layers SSF scales");
  return out;
}
