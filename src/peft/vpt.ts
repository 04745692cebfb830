// VPT-Deep (Jia et al. 2022): P learnable prompt tokens at the input of every transformer layer.
// Before layer 0 they are inserted after the cls token ([cls, prompts, patches]); before each
// later layer they replace the previous layer's prompt outputs; after the last layer the prompt
// outputs are dropped, so the token count changes only inside the encoder and the final norm,
// pooling and head see the ViT's own tokens. Prompts start uniform in ±sqrt(6 / (C·p² + D)), as
// the official code (C input channels, p the patch size, D the width).
//
// ViT-B/16 with 50 prompts: 12 · 50 · 768 = 460,800, plus the head: 537,700 = 0.54M with 100
// classes, 1,229,800 = 1.23M with 1000 (Table 1).
//
// The block loop changes, so VPT-Deep is a wrapper model rather than a module swap: PromptedVit
// adopts the ViT's modules (same objects, same keys, so pretrained checkpoints load as they are),
// adds one parameter `prompt_embeddings` [depth, P, D] (official code: `prompt_embeddings` for
// layer 0 and `deep_prompt_embeddings` for the rest, here one tensor), and overrides
// forwardFeatures and segments. Swin has its own wrapper (vpt-swin.ts, the official Swin variant);
// ConvNeXt and AS-MLP have no tokens to prompt (Table 1 has no entry either): PftError("config").
import { Tensor, cat, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import { SwinTransformer, VisionModel, VisionTransformer, detectArch, type Segment, type UnitRules } from "../models/index.js";
import { Module, Parameter, uniform_, type StateDict } from "../nn/index.js";
import { checkPlain, freezeAllBut, type Peft, type VptOptions } from "./peft.js";
import { adopt } from "./surgery.js";
import { PromptedSwin, swinPromptShapes } from "./vpt-swin.js";

export const VPT_DEFAULTS: VptOptions = { prompts: 50 };

/** A ViT with deep prompts; every other module is the wrapped ViT's own. */
export class PromptedVit extends VisionModel {
  readonly peftMethod = "vpt";
  readonly prompt_embeddings: Parameter;
  readonly #vit: VisionTransformer;

  constructor(vit: VisionTransformer, prompts: number) {
    super();
    adopt(this, vit);
    this.#vit = vit;
    const { depth, embedDim, patchSize, inChans } = vit.cfg;
    const bound = Math.sqrt(6 / (inChans * patchSize * patchSize + embedDim));
    this.prompt_embeddings = uniform_(new Parameter(Tensor.empty([depth, prompts, embedDim])), -bound, bound);
    this.train(vit.training);
  }

  /** The wrapped ViT (its modules are this model's). */
  get vit(): VisionTransformer {
    return this.#vit;
  }
  get numPrompts(): number {
    return this.prompt_embeddings.shape[1];
  }
  get arch(): string {
    return this.#vit.arch;
  }
  /** The wrapped ViT's config (class count, input size, channels). */
  get cfg(): VisionTransformer["cfg"] {
    return this.#vit.cfg;
  }
  get #prefix(): number {
    return this.#vit.cls_token ? 1 : 0;
  }

  /** Layer i's input: layer i's prompts after the prefix tokens, in place of layer i-1's prompt outputs. */
  prompted(h: Tensor, layer: number): Tensor {
    return scope(() => {
      const pre = this.#prefix;
      const [b, , d] = h.shape;
      let p = this.prompt_embeddings.value.select(0, layer).unsqueeze(0).expand([b, this.numPrompts, d]);
      if (p.dtype !== h.dtype) p = p.to(h.dtype);
      const rest = h.slice(1, layer === 0 ? pre : pre + this.numPrompts);
      return cat(pre ? [h.slice(1, 0, pre), p, rest] : [p, rest], 1);
    });
  }

  /** The encoder's output without the prompt outputs. */
  withoutPrompts(h: Tensor): Tensor {
    return scope(() => {
      const pre = this.#prefix;
      const rest = h.slice(1, pre + this.numPrompts);
      return pre ? cat([h.slice(1, 0, pre), rest], 1) : rest;
    });
  }

  forwardFeatures(x: Tensor): Tensor {
    return scope(() => {
      const vit = this.#vit;
      let h = vit.embed(x);
      [...vit.blocks].forEach((blk, i) => (h = blk.forward(this.prompted(h, i))));
      return vit.norm.forward(this.withoutPrompts(h));
    });
  }

  forwardHead(h: Tensor): Tensor {
    return this.#vit.forwardHead(h);
  }

  /** The ViT's segments, with layer i's prompts entering at its attention unit (so they are trainable there). */
  override segments(): Segment[] {
    const vit = this.#vit;
    const blocks = [...vit.blocks];
    const params = (...ms: Module[]) => ms.flatMap((m) => m.parameters());
    const segs: Segment[] = [{ name: "embed", parameters: [...params(vit.patch_embed), vit.pos_embed, ...(vit.cls_token ? [vit.cls_token] : [])], run: (x) => vit.embed(x) }];
    blocks.forEach((blk, i) => {
      segs.push({
        name: `blocks.${i}.attn`,
        parameters: [...params(blk.norm1, blk.attn, blk.ls1), this.prompt_embeddings],
        run: (h) => scope(() => {
          const p = this.prompted(h, i);
          return p.add(blk.attnBranch(p));
        }),
      });
      segs.push({
        name: `blocks.${i}.ffn`,
        parameters: params(blk.norm2, blk.mlp, blk.ls2),
        run: (h) => scope(() => {
          const y = h.add(blk.ffnBranch(h));
          return i === blocks.length - 1 ? this.withoutPrompts(y) : y;
        }),
      });
    });
    segs.push({ name: "head", parameters: params(vit.norm, vit.fc_norm, vit.head), run: (h) => vit.forwardHead(vit.norm.forward(h)) });
    return segs;
  }

  resetClassifier(numClasses: number): void {
    this.#vit.resetClassifier(numClasses);
    adopt(this, this.#vit); // the new head
  }
  classifierKeys(): string[] {
    return this.#vit.classifierKeys();
  }
  override noWeightDecay(): Set<string> {
    return new Set([...this.#vit.noWeightDecay(), "prompt_embeddings"]);
  }
  unitRules(): UnitRules {
    return this.#vit.unitRules();
  }
  override checkpointFilter(sd: StateDict): StateDict {
    return this.#vit.checkpointFilter(sd);
  }
}

export function checkVptOptions(o: VptOptions): void {
  if (!Number.isInteger(o.prompts) || o.prompts < 1) throw new PftError("config", `vpt: the number of prompts must be a whole number >= 1, got ${o.prompts}`);
}

export function applyVpt(model: VisionModel, opts: Partial<VptOptions> = {}): Peft {
  const o = { ...VPT_DEFAULTS, ...opts };
  checkVptOptions(o);
  checkPlain(model, "vpt");
  const wrapped = model instanceof VisionTransformer ? new PromptedVit(model, o.prompts) : model instanceof SwinTransformer ? new PromptedSwin(model, o.prompts) : null;
  if (!wrapped) throw new PftError("config", `vpt: VPT-Deep is implemented for ViT and Swin only, not ${model.arch}`);
  const added = wrapped.namedParameters().map((n) => n.name).filter((n) => n === "prompt_embeddings" || n.startsWith("prompt_embeddings."));
  const trainable = [...added, ...model.classifierKeys()];
  freezeAllBut(wrapped, trainable);
  let live = true;
  return {
    spec: { method: "vpt", ...o },
    model: wrapped,
    added,
    trainable: wrapped.namedParameters().map((n) => n.name).filter((n) => trainable.includes(n)),
    mergeable: false,
    merge() {
      throw new PftError("config", "vpt cannot be merged into the weights (its prompts are extra tokens)");
    },
    remove() {
      if (!live) throw new PftError("argument", "vpt was already removed");
      live = false;
      for (const n of added) wrapped.getParameter(n).dispose();
      return model;
    },
  };
}

/** The parameters applyVpt adds, from the base model's parameter names and shapes alone. */
export function vptShapes(shapes: ReadonlyMap<string, readonly number[]>, opts: Partial<VptOptions> = {}): Map<string, number[]> {
  const o = { ...VPT_DEFAULTS, ...opts };
  checkVptOptions(o);
  const keys = [...shapes.keys()];
  const arch = detectArch(keys).arch;
  if (arch === "swin") return swinPromptShapes(shapes, o.prompts);
  if (arch !== "vit") throw new PftError("config", `vpt: VPT-Deep is implemented for ViT and Swin only, not ${arch}`);
  const depth = new Set(keys.map((k) => /^blocks\.(\d+)\./.exec(k)?.[1]).filter((b) => b !== undefined)).size;
  const dim = shapes.get("pos_embed")![2];
  return new Map([["prompt_embeddings", [depth, o.prompts, dim]]]);
}
