# Reference VPT-Deep Swin (the VPT authors' "prepend", deep variant) on top of swin_ref's timm
# structure, in plain PyTorch: per block, P prompts of the stage's width replace the previous
# prompts in front of the patches; after norm1 they join every window; the relative position bias
# and the shift mask get zero rows/columns for them; their outputs are averaged over each image's
# windows; the residual and the FFN run over all tokens; patch merging drops the prompts; the final
# norm and the average pool cover the last prompts and the patches.
# Usage: vpt_swin_ref.py CONFIG_JSON WEIGHTS INPUT OUT (config: the Swin's, plus "prompts").
import json, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))
import st_io  # noqa: E402
from swin_ref import SwinTransformer, window_partition, window_reverse  # noqa: E402


def prompted_attention(attn, x, mask, P):
    B_, N, C = x.shape
    q, k, v = attn.qkv(x).reshape(B_, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    scores = (q * attn.scale) @ k.transpose(-2, -1)
    bias = attn._get_rel_pos_bias()  # [1, heads, n, n]
    full = torch.zeros(1, attn.num_heads, N, N)
    full[:, :, P:, P:] = bias
    scores = scores + full
    if mask is not None:
        nw = mask.shape[0]
        m = torch.zeros(nw, N, N)
        m[:, P:, P:] = mask
        scores = scores.view(-1, nw, attn.num_heads, N, N) + m.unsqueeze(1).unsqueeze(0)
        scores = scores.view(-1, attn.num_heads, N, N)
    return attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(B_, N, C))


def prompted_block(blk, x, H, W, P):
    B, L, C = x.shape
    ws, ss = blk.window_size, blk.shift_size
    shortcut = x
    x = blk.norm1(x)
    prompts, patches = x[:, :P], x[:, P:].reshape(B, H, W, C)
    shifted = torch.roll(patches, shifts=(-ss, -ss), dims=(1, 2)) if ss else patches
    windows = window_partition(shifted, ws).view(-1, ws * ws, C)
    nw = windows.shape[0] // B
    pw = prompts.unsqueeze(1).expand(B, nw, P, C).reshape(B * nw, P, C)
    out = prompted_attention(blk.attn, torch.cat((pw, windows), 1), blk.attn_mask, P)
    prompt_out = out[:, :P].reshape(B, nw, P, C).mean(1)
    patches = window_reverse(out[:, P:].reshape(-1, ws, ws, C), ws, H, W)
    if ss:
        patches = torch.roll(patches, shifts=(ss, ss), dims=(1, 2))
    x = shortcut + torch.cat((prompt_out, patches.reshape(B, H * W, C)), 1)
    return x + blk.mlp(blk.norm2(x))


class PromptedSwin(SwinTransformer):
    def __init__(self, c):
        super().__init__(c)
        self.P = c["prompts"]
        dims = [c["embedDim"] * 2 ** i for i in range(len(c["depths"]))]
        self.prompt_embeddings = nn.ParameterList([nn.Parameter(torch.zeros(d, self.P, dims[s])) for s, d in enumerate(c["depths"])])

    def forward(self, x):
        P = self.P
        x = self.patch_embed(x)
        tokens = None
        for s, stage in enumerate(self.layers):
            if s > 0:
                x = stage.downsample(x)
            B, H, W, C = x.shape
            flat = x.reshape(B, H * W, C)
            for i, blk in enumerate(stage.blocks):
                p = self.prompt_embeddings[s][i].unsqueeze(0).expand(B, -1, -1)
                tokens = prompted_block(blk, torch.cat((p, flat), 1), H, W, P)
                flat = tokens[:, P:]
            x = flat.reshape(B, H, W, C)
        return self.head.fc(self.norm(tokens).mean(1))


if __name__ == "__main__":
    cfg_path, weights, inputs, out = sys.argv[1:5]
    cfg = json.load(open(cfg_path))
    torch.set_num_threads(1)
    model = PromptedSwin(cfg).eval()
    model.load_state_dict(st_io.load(weights), strict=True)
    io = st_io.load(inputs)
    logits = model(io["x"])
    F.cross_entropy(logits, io["y"]).backward()
    result = {"logits": logits.detach()}
    for k, p in model.named_parameters():
        result["grad." + k] = p.grad
    st_io.save(out, result)
