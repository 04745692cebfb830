# Reference AS-MLP with the official structure and parameter names (svip-lab/AS-MLP,
# models/as_mlp.py), in plain PyTorch 1.13: the CUDA Shift kernel is replaced by the source's own
# CPU equivalent `torch_shift` (pad, chunk, roll, narrow), and MyNorm is nn.GroupNorm(1, dim).
# Usage: asmlp_ref.py CONFIG_JSON WEIGHTS INPUT OUT, all paths; writes logits and the gradient of
# cross-entropy w.r.t. every parameter to OUT (safetensors).
import json, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))
import st_io  # noqa: E402


def MyNorm(dim):
    return nn.GroupNorm(1, dim)


def torch_shift(x, shift_size, dim):
    _, _, H, W = x.shape
    pad = shift_size // 2
    x = F.pad(x, (pad, pad, pad, pad), "constant", 0)
    xs = torch.chunk(x, shift_size, 1)
    x_shift = [torch.roll(x_c, shift, dim) for x_c, shift in zip(xs, range(-pad, pad + 1))]
    x_cat = torch.cat(x_shift, 1)
    x_cat = torch.narrow(x_cat, 2, pad, H)
    return torch.narrow(x_cat, 3, pad, W)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class AxialShift(nn.Module):
    def __init__(self, dim, shift_size, as_bias):
        super().__init__()
        self.shift_size = shift_size
        self.conv1 = nn.Conv2d(dim, dim, 1, 1, 0, bias=as_bias)
        self.conv2_1 = nn.Conv2d(dim, dim, 1, 1, 0, bias=as_bias)
        self.conv2_2 = nn.Conv2d(dim, dim, 1, 1, 0, bias=as_bias)
        self.conv3 = nn.Conv2d(dim, dim, 1, 1, 0, bias=as_bias)
        self.actn = nn.GELU()
        self.norm1 = MyNorm(dim)
        self.norm2 = MyNorm(dim)

    def forward(self, x):
        x = self.actn(self.norm1(self.conv1(x)))
        x_lr = self.actn(self.conv2_1(torch_shift(x, self.shift_size, 3)))
        x_td = self.actn(self.conv2_2(torch_shift(x, self.shift_size, 2)))
        return self.conv3(self.norm2(x_lr + x_td))


class AxialShiftedBlock(nn.Module):
    def __init__(self, dim, c):
        super().__init__()
        self.norm1 = MyNorm(dim)
        self.axial_shift = AxialShift(dim, c["shiftSize"], c["asBias"])
        self.norm2 = MyNorm(dim)
        self.mlp = Mlp(dim, int(dim * c["mlpRatio"]))

    def forward(self, x):
        x = x + self.axial_shift(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Conv2d(4 * dim, 2 * dim, 1, 1, bias=False)
        self.norm = MyNorm(4 * dim)

    def forward(self, x):
        x0 = x[:, :, 0::2, 0::2]
        x1 = x[:, :, 1::2, 0::2]
        x2 = x[:, :, 0::2, 1::2]
        x3 = x[:, :, 1::2, 1::2]
        return self.reduction(self.norm(torch.cat([x0, x1, x2, x3], 1)))


class BasicLayer(nn.Module):
    def __init__(self, dim, depth, c, downsample):
        super().__init__()
        self.blocks = nn.ModuleList([AxialShiftedBlock(dim, c) for _ in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        p = c["patchSize"]
        self.proj = nn.Conv2d(c["inChans"], c["embedDim"], kernel_size=p, stride=p)
        self.norm = MyNorm(c["embedDim"]) if c["patchNorm"] else None

    def forward(self, x):
        x = self.proj(x)
        return self.norm(x) if self.norm is not None else x


class AS_MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = len(c["depths"])
        d = c["embedDim"]
        self.patch_embed = PatchEmbed(c)
        self.layers = nn.ModuleList([BasicLayer(d * 2 ** i, c["depths"][i], c, i < n - 1) for i in range(n)])
        self.norm = MyNorm(d * 2 ** (n - 1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(d * 2 ** (n - 1), c["numClasses"])

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        x = torch.flatten(self.avgpool(self.norm(x)), 1)
        return self.head(x)


cfg_path, weights, inputs, out = sys.argv[1:5]
cfg = json.load(open(cfg_path))
torch.set_num_threads(1)
model = AS_MLP(cfg)
model.load_state_dict(st_io.load(weights), strict=True)
io = st_io.load(inputs)
logits = model(io["x"])
F.cross_entropy(logits, io["y"]).backward()
result = {"logits": logits.detach()}
for k, p in model.named_parameters():
    result["grad." + k] = p.grad
st_io.save(out, result)
