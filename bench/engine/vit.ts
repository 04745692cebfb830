// The benchmark's ViT, written straight on the engine (functional, no nn layer) so the engine
// alone is measured: 32x32x3 input, patch 4, dim 192, depth 6, 3 heads, MLP ratio 4 (2.7M params).
// bench/engine/peer.py builds the same network in PyTorch.
import { Tensor, F, cat } from "../../src/engine/index.js";

export interface BenchVitConfig {
  imageSize: number;
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  classes: number;
}

export const BENCH_VIT: BenchVitConfig = { imageSize: 32, patch: 4, dim: 192, depth: 6, heads: 3, mlpRatio: 4, classes: 10 };

export class BenchVit {
  readonly params = new Map<string, Tensor>();

  constructor(readonly cfg: BenchVitConfig) {
    const { dim, patch, depth, classes } = cfg;
    const tokens = (cfg.imageSize / patch) ** 2 + 1;
    const hidden = dim * cfg.mlpRatio;
    const p = (name: string, shape: number[], init: "randn" | "zeros" | "ones" = "randn") => {
      const t = init === "randn" ? Tensor.randn(shape).mul_(0.02) : init === "zeros" ? Tensor.zeros(shape) : Tensor.ones(shape);
      this.params.set(name, t.keep().requiresGrad_(true));
    };
    p("cls_token", [1, 1, dim]);
    p("pos_embed", [1, tokens, dim]);
    p("patch_embed.proj.weight", [dim, 3, patch, patch]);
    p("patch_embed.proj.bias", [dim], "zeros");
    for (let i = 0; i < depth; i++) {
      p(`blocks.${i}.norm1.weight`, [dim], "ones");
      p(`blocks.${i}.norm1.bias`, [dim], "zeros");
      p(`blocks.${i}.attn.qkv.weight`, [3 * dim, dim]);
      p(`blocks.${i}.attn.qkv.bias`, [3 * dim], "zeros");
      p(`blocks.${i}.attn.proj.weight`, [dim, dim]);
      p(`blocks.${i}.attn.proj.bias`, [dim], "zeros");
      p(`blocks.${i}.norm2.weight`, [dim], "ones");
      p(`blocks.${i}.norm2.bias`, [dim], "zeros");
      p(`blocks.${i}.mlp.fc1.weight`, [hidden, dim]);
      p(`blocks.${i}.mlp.fc1.bias`, [hidden], "zeros");
      p(`blocks.${i}.mlp.fc2.weight`, [dim, hidden]);
      p(`blocks.${i}.mlp.fc2.bias`, [dim], "zeros");
    }
    p("norm.weight", [dim], "ones");
    p("norm.bias", [dim], "zeros");
    p("head.weight", [classes, dim]);
    p("head.bias", [classes], "zeros");
  }

  private w(name: string): Tensor {
    return this.params.get(name)!;
  }

  forward(x: Tensor): Tensor {
    const { dim, heads, patch } = this.cfg;
    const b = x.size(0);
    let h = F.conv2d(x, this.w("patch_embed.proj.weight"), this.w("patch_embed.proj.bias"), { stride: patch });
    h = h.flatten(2).transpose(1, 2);
    h = cat([this.w("cls_token").expand([b, 1, dim]), h], 1).add(this.w("pos_embed"));
    const n = h.size(1);
    const hd = dim / heads;
    for (let i = 0; i < this.cfg.depth; i++) {
      const k = `blocks.${i}.`;
      const y = F.layerNorm(h, [dim], this.w(k + "norm1.weight"), this.w(k + "norm1.bias"), 1e-6);
      const qkv = F.linear(y, this.w(k + "attn.qkv.weight"), this.w(k + "attn.qkv.bias")).reshape([b, n, 3, heads, hd]).permute([2, 0, 3, 1, 4]);
      const [q, kk, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
      const attn = q.mul(hd ** -0.5).matmul(kk.mT()).softmax(-1);
      const o = attn.matmul(v).transpose(1, 2).reshape([b, n, dim]);
      h = h.add(F.linear(o, this.w(k + "attn.proj.weight"), this.w(k + "attn.proj.bias")));
      const z = F.layerNorm(h, [dim], this.w(k + "norm2.weight"), this.w(k + "norm2.bias"), 1e-6);
      const m = F.linear(F.linear(z, this.w(k + "mlp.fc1.weight"), this.w(k + "mlp.fc1.bias")).gelu(), this.w(k + "mlp.fc2.weight"), this.w(k + "mlp.fc2.bias"));
      h = h.add(m);
    }
    h = F.layerNorm(h, [dim], this.w("norm.weight"), this.w("norm.bias"), 1e-6);
    return F.linear(h.select(1, 0), this.w("head.weight"), this.w("head.bias"));
  }
}
