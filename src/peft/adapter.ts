// Adapter (Houlsby et al. 2019, the paper's [9]): a bottleneck x + up(GELU(down(x))) on the
// output of every block's FFN, before the residual addition. One adapter per block, with biases:
// that is the placement Table 1's Params column implies for ViT-B/16 at reduction 64
// (768 -> 12 -> 768: 768*12 + 12 + 12*768 + 768 = 19,212 per block, 12 blocks = 230,544, plus the
// head: 307,444 = 0.31M with 100 classes, 999,544 = 1.00M with 1000; two adapters per block, as
// Houlsby's NLP placement, would give 0.54M). The up-projection starts at zero, so the adapted
// model computes exactly the pretrained function at initialisation.
//
// The same placement gives Table 1's Adapter counts for Swin-B (0.33M, 1.26M), ConvNeXt-B (0.45M,
// 1.37M) and AS-MLP-B (0.33M) as well.
//
// Module surgery: each `blocks.N.mlp` is replaced by a stand-in that keeps the MLP's keys and adds
// `blocks.N.mlp.adapter.{down,up}.{weight,bias}` (inside the FFN unit of the catalog).
import { scope, type Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import type { VisionModel } from "../models/index.js";
import { Conv2d, Linear, Module, zeros_, type Parameter } from "../nn/index.js";
import { checkPlain, surgeryPeft, type AdapterOptions, type Peft } from "./peft.js";
import { StandIn, findModules, standIns } from "./surgery.js";

export const ADAPTER_DEFAULTS: AdapterOptions = { reduction: 64 };

/** Every block's FFN (`blocks.3.mlp`, `layers.2.blocks.5.mlp`): an MLP ending in a Linear `fc2`. */
const ADAPTER_SITES = [/(^|\.)blocks\.\d+\.mlp$/];

export const adapterWidth = (dim: number, reduction: number): number => Math.max(1, Math.floor(dim / reduction));

/** The bottleneck: x + up(GELU(down(x))), up-projection zero-initialised. */
export class Adapter extends Module {
  readonly down: Linear;
  readonly up: Linear;
  constructor(dim: number, hidden: number) {
    super();
    this.down = new Linear(dim, hidden); // PyTorch's default init (kaiming-uniform), as AdaptFormer
    zeros_(this.down.bias!);
    this.up = new Linear(hidden, dim);
    zeros_(this.up.weight);
    zeros_(this.up.bias!);
  }
  override forward(x: Tensor): Tensor {
    return scope(() => x.add(this.up.forward(this.down.forward(x).gelu())));
  }
}

/** A block's MLP followed by its adapter (over the last dimension, or dimension 1 after a 1x1-conv MLP as AS-MLP's). */
export class AdaptedMlp extends StandIn {
  readonly adapter: Adapter;
  readonly channelsFirst: boolean;
  constructor(mlp: Module, reduction: number) {
    super(mlp);
    const fc2: unknown = (mlp as unknown as Record<string, unknown>).fc2;
    if (!(fc2 instanceof Linear || fc2 instanceof Conv2d)) throw new PftError("config", `adapter: ${mlp.constructor.name} has no Linear or Conv2d fc2 to size the adapter from`);
    const dim = fc2 instanceof Linear ? fc2.outFeatures : fc2.outChannels;
    this.channelsFirst = fc2 instanceof Conv2d;
    this.adapter = new Adapter(dim, adapterWidth(dim, reduction));
  }
  override forward(x: Tensor): Tensor {
    return scope(() => {
      const y = this.baseForward(x);
      if (!this.channelsFirst) return this.adapter.forward(y);
      return this.adapter.forward(y.permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
    });
  }
  ownParameters(): Parameter[] {
    return this.adapter.parameters();
  }
}

export function checkAdapterOptions(o: AdapterOptions): void {
  if (!Number.isInteger(o.reduction) || o.reduction < 1) throw new PftError("config", `adapter: the reduction factor must be a whole number >= 1, got ${o.reduction}`);
}

export function applyAdapter(model: VisionModel, opts: Partial<AdapterOptions> = {}): Peft {
  const o = { ...ADAPTER_DEFAULTS, ...opts };
  checkAdapterOptions(o);
  checkPlain(model, "adapter");
  const sites = findModules(model, ADAPTER_SITES).map((s) => s.name);
  if (sites.length === 0) throw new PftError("config", `adapter: ${model.arch} has no blocks with an MLP (blocks.N.mlp) to adapt`);
  const placed = standIns(model, sites, (m) => new AdaptedMlp(m, o.reduction));
  return surgeryPeft({ method: "adapter", ...o }, model, placed, null);
}

/** The parameters applyAdapter adds, from the base model's parameter names and shapes alone. */
export function adapterShapes(shapes: ReadonlyMap<string, readonly number[]>, opts: Partial<AdapterOptions> = {}): Map<string, number[]> {
  const o = { ...ADAPTER_DEFAULTS, ...opts };
  checkAdapterOptions(o);
  const out = new Map<string, number[]>();
  for (const [key, shape] of shapes) {
    const m = /^(.*)\.fc2\.weight$/.exec(key);
    if (!m || !ADAPTER_SITES.some((re) => re.test(m[1]))) continue;
    const dim = shape[0];
    const h = adapterWidth(dim, o.reduction);
    out.set(`${m[1]}.adapter.down.weight`, [h, dim]);
    out.set(`${m[1]}.adapter.down.bias`, [h]);
    out.set(`${m[1]}.adapter.up.weight`, [dim, h]);
    out.set(`${m[1]}.adapter.up.bias`, [dim]);
  }
  if (out.size === 0) throw new PftError("config", "adapter: the model has no blocks with an MLP (blocks.N.mlp) to adapt");
  return out;
}
