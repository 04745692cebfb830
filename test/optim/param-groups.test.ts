// paramGroupsWeightDecay: timm's param_groups_weight_decay split.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/engine/index.js";
import { Parameter, type NamedParameter } from "../../src/nn/parameter.js";
import { AdamW, paramGroupsWeightDecay } from "../../src/optim/index.js";

const P = (name: string, shape: number[], trainable = true): NamedParameter => ({ name, param: new Parameter(Tensor.zeros(shape), trainable) });

test("no decay for ndim <= 1, .bias and the no-weight-decay names; frozen parameters left out", () => {
  const named = [
    P("cls_token", [1, 1, 8]),
    P("pos_embed", [1, 5, 8]),
    P("patch_embed.proj.weight", [8, 3, 2, 2]),
    P("patch_embed.proj.bias", [8]),
    P("blocks.0.norm1.weight", [8]),
    P("blocks.0.attn.qkv.weight", [24, 8]),
    P("blocks.0.attn.qkv.bias", [24]),
    P("blocks.0.ls1.gamma", [8]),
    P("blocks.1.attn.qkv.weight", [24, 8], false),
    P("blocks.1.attn.qkv.bias", [24], false),
    P("head.weight", [10, 8]),
    P("head.bias", [10]),
  ];
  const [noDecay, decay] = paramGroupsWeightDecay(named, 0.05, new Set(["pos_embed", "cls_token"]));
  assert.deepEqual(noDecay.params.map((p) => p.name), ["cls_token", "pos_embed", "patch_embed.proj.bias", "blocks.0.norm1.weight", "blocks.0.attn.qkv.bias", "blocks.0.ls1.gamma", "head.bias"]);
  assert.equal(noDecay.weightDecay, 0);
  assert.deepEqual(decay.params.map((p) => p.name), ["patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "head.weight"]);
  assert.equal(decay.weightDecay, 0.05);

  // Without the model's no-weight-decay set, cls_token / pos_embed (3-D) are decayed.
  const [nd2, d2] = paramGroupsWeightDecay(named, 0.05);
  assert.ok(d2.params.some((p) => p.name === "pos_embed") && !nd2.params.some((p) => p.name === "pos_embed"));

  // The groups feed an optimizer directly.
  const opt = new AdamW(paramGroupsWeightDecay(named, 0.05, ["pos_embed", "cls_token"]), { lr: 1e-3 });
  assert.deepEqual(opt.groups.map((g) => [g.weightDecay, g.params.length]), [[0, 7], [0.05, 3]]);
});
