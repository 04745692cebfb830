# Reference Swin Transformer with timm's (>= 0.9) structure and parameter names, in plain PyTorch
# 1.13 (timm is not installed here): channels-last activations, patch merging at the start of
# stages 1.., relative position index and shifted-window mask built as timm builds them.
# Usage: swin_ref.py CONFIG_JSON WEIGHTS INPUT OUT, all paths; writes logits and the gradient of
# cross-entropy w.r.t. every parameter to OUT (safetensors).
import json, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))
import st_io  # noqa: E402


def window_partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws, H, W):
    C = windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, C)


def get_relative_position_index(win_h, win_w):
    coords = torch.stack(torch.meshgrid(torch.arange(win_h), torch.arange(win_w), indexing="ij"))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    relative_coords = relative_coords.permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += win_h - 1
    relative_coords[:, :, 1] += win_w - 1
    relative_coords[:, :, 0] *= 2 * win_w - 1
    return relative_coords.sum(-1)


class WindowAttention(nn.Module):
    def __init__(self, dim, num_heads, window_size, qkv_bias):
        super().__init__()
        self.window_size, self.num_heads = window_size, num_heads
        self.window_area = window_size * window_size
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", get_relative_position_index(window_size, window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _get_rel_pos_bias(self):
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(self.window_area, self.window_area, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x, mask=None):
        B_, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B_, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn + self._get_rel_pos_bias()
        if mask is not None:
            num_win = mask.shape[0]
            attn = attn.view(-1, num_win, self.num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, N, N)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B_, N, -1)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, resolution, num_heads, window_size, shift_size, mlp_ratio, qkv_bias):
        super().__init__()
        self.resolution = resolution
        if resolution <= window_size:  # timm: one window covers the map, no shift
            window_size, shift_size = resolution, 0
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", self.get_attn_mask(), persistent=False)

    def get_attn_mask(self):
        if not self.shift_size:
            return None
        H = W = self.resolution
        ws, ss = self.window_size, self.shift_size
        img_mask = torch.zeros((1, H, W, 1))
        cnt = 0
        for h in ((0, -ws), (-ws, -ss), (-ss, None)):
            for w in ((0, -ws), (-ws, -ss), (-ss, None)):
                img_mask[:, h[0]:h[1], w[0]:w[1], :] = cnt
                cnt += 1
        mask_windows = window_partition(img_mask, ws).view(-1, ws * ws)
        attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
        return attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))

    def _attn(self, x):
        B, H, W, C = x.shape
        ws, ss = self.window_size, self.shift_size
        shifted_x = torch.roll(x, shifts=(-ss, -ss), dims=(1, 2)) if ss else x
        x_windows = window_partition(shifted_x, ws).view(-1, ws * ws, C)
        attn_windows = self.attn(x_windows, mask=self.attn_mask).view(-1, ws, ws, C)
        shifted_x = window_reverse(attn_windows, ws, H, W)
        return torch.roll(shifted_x, shifts=(ss, ss), dims=(1, 2)) if ss else shifted_x

    def forward(self, x):
        B, H, W, C = x.shape
        x = x + self._attn(self.norm1(x))
        x = x.reshape(B, -1, C)
        x = x + self.mlp(self.norm2(x))
        return x.reshape(B, H, W, C)


class PatchMerging(nn.Module):
    def __init__(self, dim, out_dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x):
        B, H, W, C = x.shape
        x = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3)
        return self.reduction(self.norm(x))


class SwinTransformerStage(nn.Module):
    def __init__(self, dim, out_dim, resolution, depth, downsample, num_heads, window_size, mlp_ratio, qkv_bias):
        super().__init__()
        self.downsample = PatchMerging(dim, out_dim) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[
            SwinTransformerBlock(out_dim, resolution, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio, qkv_bias)
            for i in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, in_chans, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class ClassifierHead(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.fc(x.mean((1, 2)))


class SwinTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = len(c["depths"])
        dims = [c["embedDim"] * 2 ** i for i in range(n)]
        self.patch_embed = PatchEmbed(c["patchSize"], c["inChans"], c["embedDim"])
        res = c["imageSize"] // c["patchSize"]
        layers = []
        for i in range(n):
            if i > 0:
                res //= 2
            layers.append(SwinTransformerStage(dims[i - 1] if i > 0 else dims[0], dims[i], res, c["depths"][i], i > 0,
                                               c["numHeads"][i], c["windowSize"], c["mlpRatio"], c["qkvBias"]))
        self.layers = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = ClassifierHead(dims[-1], c["numClasses"])

    def forward(self, x):
        return self.head(self.norm(self.layers(self.patch_embed(x))))


if __name__ == "__main__":
    cfg_path, weights, inputs, out = sys.argv[1:5]
    cfg = json.load(open(cfg_path))
    torch.set_num_threads(1)
    model = SwinTransformer(cfg).eval()
    model.load_state_dict(st_io.load(weights), strict=True)
    io = st_io.load(inputs)
    logits = model(io["x"])
    F.cross_entropy(logits, io["y"]).backward()
    result = {"logits": logits.detach()}
    for k, p in model.named_parameters():
        result["grad." + k] = p.grad
    st_io.save(out, result)
