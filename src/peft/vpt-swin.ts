// VPT-Deep for Swin, as the VPT authors' Swin variant (KMnP/vpt, PromptedSwinTransformer with
// LOCATION "prepend", DEEP): every block of every stage gets its own P prompt tokens of its stage's
// width, placed in front of the patch tokens in place of the previous block's prompt outputs.
//
// Inside a block the prompts go through norm1 with the patches, then join EVERY window: the same
// P prompts are put in front of each window's tokens, so a window attends over P + ws² tokens.
// The relative position bias and the shifted-window mask are padded with zeros for the prompt
// rows and columns (prompts attend to every token of the window and every token to the prompts,
// with no position bias). The prompts' attention outputs are then averaged over the windows of
// their image, put back in front of the patches, and the residual, drop path and FFN run over all
// P + HW tokens together. Patch merging discards the prompts (the official code merges them and
// then block 0 of the next stage replaces them, so nothing of them survives). After the last
// block, the final norm and the average pool run over the patches AND the last prompt outputs, as
// the official code pools over all its tokens.
//
// One deviation, on purpose: the official code averages the prompt outputs with
// `view(-1, B, P, C).mean(0)` over a batch-major window order, which mixes the images of a batch
// whenever a stage has more than one window and the batch more than one image (it never matters
// for Swin-B at 224, whose last stage is one 7x7 window); here each image averages its own windows.
//
// Prompts start uniform in ±sqrt(6 / (C·p² + D0)) (C input channels, p the patch size, D0 the
// stage-0 width) for every stage, as the official code.
//
// Swin-B with 50 prompts: 50 · (2·128 + 2·256 + 18·512 + 2·1024) = 601,600, plus the head:
// 704,100 = 0.70M with 100 classes, 1,626,600 = 1.63M with 1000 (Table 1).
//
// Parameters: `prompt_embeddings.<stage>` [depth_s, P, D_s] (the official code's
// `prompt_embeddings` plus `deep_prompt_embeddings_0..3`, regrouped by stage).
import { Tensor, cat, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import { SwinTransformer, VisionModel, type UnitRules } from "../models/index.js";
import { windowPartition, windowReverse, type SwinTransformerBlock, type WindowAttention } from "../models/swin.js";
import { Module, Parameter, uniform_, type StateDict } from "../nn/index.js";

/** One prompt table per stage, as fields "0", "1", ... (keys `prompt_embeddings.<stage>`). */
export class StagePrompts extends Module {
  constructor(tables: Parameter[]) {
    super();
    tables.forEach((t, s) => ((this as unknown as Record<string, Parameter>)[String(s)] = t));
  }
  /** Stage s's prompts, [depth_s, P, D_s]. */
  stage(s: number): Parameter {
    return (this as unknown as Record<string, Parameter>)[String(s)];
  }
}

const onDeviceOf = (t: Tensor, x: Tensor): Tensor => (t.device === x.device ? t : t.to(x.device));

/**
 * WindowAttention.forwardWindows with `prompts` tokens in front of each window: the bias and the
 * mask get zero rows and columns for them. (The model file's attention takes exactly ws² tokens;
 * this is its computation with the official variant's padding, on the same layers.)
 */
export function promptedWindowAttention(attn: WindowAttention, x: Tensor, mask: Tensor | null, prompts: number): Tensor {
  return scope(() => {
    const [b, n, c] = x.shape;
    const heads = attn.numHeads;
    const qkv = attn.qkv.forward(x).reshape([b, n, 3, heads, attn.headDim]).permute([2, 0, 3, 1, 4]);
    const [q, k, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
    const bias = attn.relativePositionBias(x).pad([prompts, 0, prompts, 0]);
    let scores = q.mul(attn.headDim ** -0.5).matmul(k.mT()).add(bias);
    if (mask) {
      const nw = mask.size(0);
      const padded = mask.pad([prompts, 0, prompts, 0]);
      scores = scores.reshape([-1, nw, heads, n, n]).add(padded.unsqueeze(1).unsqueeze(0)).reshape([-1, heads, n, n]);
    }
    const probs = attn.attn_drop.forward(scores.softmax(-1));
    return attn.proj_drop.forward(attn.proj.forward(probs.matmul(v).transpose(1, 2).reshape([b, n, c])));
  });
}

/**
 * One Swin block over [B, P + H·W, C] tokens (P prompts first, then the H x W map row-major).
 * Returns the same layout.
 */
export function promptedSwinBlock(blk: SwinTransformerBlock, tokens: Tensor, h: number, w: number, prompts: number): Tensor {
  return scope(() => {
    const [b, , c] = tokens.shape;
    const [ws, s] = [blk.windowSize, blk.shiftSize];
    const normed = blk.norm1.forward(tokens);
    const map = normed.slice(1, prompts).reshape([b, h, w, c]);
    const windows = windowPartition(s > 0 ? map.roll([-s, -s], [1, 2]) : map, ws).reshape([-1, ws * ws, c]);
    const nw = windows.size(0) / b;
    // windowPartition orders windows image by image, so image i's windows are rows i·nw ... i·nw + nw - 1.
    const p = normed.slice(1, 0, prompts).unsqueeze(1).expand([b, nw, prompts, c]).reshape([b * nw, prompts, c]);
    const mask = s > 0 ? onDeviceOf(blk.buffer("attn_mask"), tokens) : null;
    const out = promptedWindowAttention(blk.attn, cat([p, windows], 1), mask, prompts);
    const promptOut = out.slice(1, 0, prompts).reshape([b, nw, prompts, c]).mean([1]);
    let mapOut = windowReverse(out.slice(1, prompts).reshape([-1, ws, ws, c]), ws, h, w);
    if (s > 0) mapOut = mapOut.roll([s, s], [1, 2]);
    const y = tokens.add(blk.drop_path1.forward(cat([promptOut, mapOut.reshape([b, h * w, c])], 1)));
    return y.add(blk.ffnBranch(y));
  });
}

/** A Swin with deep prompts; every other module is the wrapped Swin's own. */
export class PromptedSwin extends VisionModel {
  readonly peftMethod = "vpt";
  readonly prompt_embeddings: StagePrompts;
  readonly #swin: SwinTransformer;
  readonly numPrompts: number;

  constructor(swin: SwinTransformer, prompts: number) {
    super();
    for (const key of ["patch_embed", "layers", "norm", "head"] as const) (this as unknown as Record<string, Module>)[key] = swin[key];
    this.#swin = swin;
    this.numPrompts = prompts;
    const { embedDim, patchSize, inChans } = swin.cfg;
    const bound = Math.sqrt(6 / (inChans * patchSize * patchSize + embedDim));
    const tables = [...swin.layers].map((stage) => {
      const dim = stage.blocks.at(0).norm1.dim;
      return uniform_(new Parameter(Tensor.empty([stage.blocks.length, prompts, dim])), -bound, bound);
    });
    this.prompt_embeddings = new StagePrompts(tables);
    this.train(swin.training);
  }

  /** The wrapped Swin (its modules are this model's). */
  get swin(): SwinTransformer {
    return this.#swin;
  }
  get arch(): string {
    return this.#swin.arch;
  }
  get cfg(): SwinTransformer["cfg"] {
    return this.#swin.cfg;
  }

  /** Block i of stage s's prompts, [B, P, D_s], in the dtype of `like`. */
  #prompts(s: number, i: number, like: Tensor): Tensor {
    return scope(() => {
      const p = this.prompt_embeddings.stage(s).value.select(0, i);
      const e = p.unsqueeze(0).expand([like.size(0), ...p.shape]);
      return e.dtype === like.dtype ? e : e.to(like.dtype);
    });
  }

  /**
   * [B, C, H, W] -> [B, 1, P + H'·W', D'] after the final norm: the last block's prompt outputs
   * and the patches as one row, so the Swin's head pools over both (as the official code).
   */
  forwardFeatures(x: Tensor): Tensor {
    return scope(() => {
      const swin = this.#swin;
      const P = this.numPrompts;
      let map = swin.patch_embed.forward(x);
      let tokens = map; // replaced by the first block's output
      for (let s = 0; s < swin.layers.length; s++) {
        const stage = swin.layers.at(s);
        if (s > 0) map = stage.downsample.forward(map); // the prompts are dropped here (see the top)
        const [b, h, w, c] = map.shape;
        let flat = map.reshape([b, h * w, c]);
        for (let i = 0; i < stage.blocks.length; i++) {
          tokens = promptedSwinBlock(stage.blocks.at(i), cat([this.#prompts(s, i, flat), flat], 1), h, w, P);
          flat = tokens.slice(1, P);
        }
        map = flat.reshape([b, h, w, c]);
      }
      return swin.norm.forward(tokens).unsqueeze(1);
    });
  }

  forwardHead(h: Tensor): Tensor {
    return this.#swin.forwardHead(h);
  }

  resetClassifier(numClasses: number): void {
    this.#swin.resetClassifier(numClasses); // replaces head.fc inside the shared head module
  }
  classifierKeys(): string[] {
    return this.#swin.classifierKeys();
  }
  override noWeightDecay(): Set<string> {
    const prompts = this.namedParameters().filter((n) => n.name.startsWith("prompt_embeddings.")).map((n) => n.name);
    return new Set([...this.#swin.noWeightDecay(), ...prompts]);
  }
  unitRules(): UnitRules {
    return this.#swin.unitRules();
  }
  override checkpointFilter(sd: StateDict): StateDict {
    return this.#swin.checkpointFilter(sd);
  }
}

/** The prompt tables of a Swin, from its parameter names and shapes: `prompt_embeddings.<s>` [depth_s, P, D_s]. */
export function swinPromptShapes(shapes: ReadonlyMap<string, readonly number[]>, prompts: number): Map<string, number[]> {
  const stages = new Map<number, { blocks: Set<number>; dim: number }>();
  for (const [key, shape] of shapes) {
    const m = /^layers\.(\d+)\.blocks\.(\d+)\.norm1\.weight$/.exec(key);
    if (!m) continue;
    const s = Number(m[1]);
    const entry = stages.get(s) ?? { blocks: new Set<number>(), dim: shape[0] };
    entry.blocks.add(Number(m[2]));
    stages.set(s, entry);
  }
  if (stages.size === 0) throw new PftError("config", "vpt: the Swin has no layers.N.blocks.M.norm1 to size the prompts from");
  return new Map([...stages].sort((a, b) => a[0] - b[0]).map(([s, e]) => [`prompt_embeddings.${s}`, [e.blocks.size, prompts, e.dim]]));
}
