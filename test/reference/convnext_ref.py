# Reference ConvNeXt with timm's structure and parameter names (convnext.py, conv_mlp=False, patch
# stem, NormMlpClassifierHead), in plain PyTorch 1.13 (timm is not installed here).
# Usage: convnext_ref.py CONFIG_JSON WEIGHTS INPUT OUT, all paths; writes logits and the gradient
# of cross-entropy w.r.t. every parameter to OUT (safetensors). Eval mode: no dropout, no drop path.
import json, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))
import st_io  # noqa: E402

EPS = 1e-6


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of NCHW (timm.layers.LayerNorm2d)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim, c):
        super().__init__()
        k = c["kernelSize"]
        self.conv_dw = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, int(c["mlpRatio"] * dim))
        ls = c["lsInitValue"]
        self.gamma = nn.Parameter(ls * torch.ones(dim)) if ls is not None else None

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x).permute(0, 2, 3, 1)
        x = self.mlp(self.norm(x)).permute(0, 3, 1, 2)
        if self.gamma is not None:
            x = x.mul(self.gamma.reshape(1, -1, 1, 1))  # timm's order: after permuting back
        return x + shortcut


class ConvNeXtStage(nn.Module):
    def __init__(self, in_chs, out_chs, stride, depth, c):
        super().__init__()
        if in_chs != out_chs or stride > 1:
            self.downsample = nn.Sequential(LayerNorm2d(in_chs, eps=EPS), nn.Conv2d(in_chs, out_chs, 2 if stride > 1 else 1, stride=stride))
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(*[ConvNeXtBlock(out_chs, c) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class NormMlpClassifierHead(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=EPS)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(self.norm(x).flatten(1))


class ConvNeXt(nn.Module):
    def __init__(self, c):
        super().__init__()
        dims, depths, p = c["dims"], c["depths"], c["patchSize"]
        self.stem = nn.Sequential(nn.Conv2d(c["inChans"], dims[0], p, stride=p), LayerNorm2d(dims[0], eps=EPS))
        stages, prev, curr_stride = [], dims[0], p
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            stride = 2 if curr_stride == 2 or i > 0 else 1  # timm's rule (output stride 32, no dilation)
            curr_stride *= stride
            stages.append(ConvNeXtStage(prev, dim, stride, depth, c))
            prev = dim
        self.stages = nn.Sequential(*stages)
        self.head = NormMlpClassifierHead(prev, c["numClasses"])

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


cfg_path, weights, inputs, out = sys.argv[1:5]
cfg = json.load(open(cfg_path))
torch.set_num_threads(1)
model = ConvNeXt(cfg)
model.load_state_dict(st_io.load(weights), strict=True)
io = st_io.load(inputs)
logits = model(io["x"])
F.cross_entropy(logits, io["y"]).backward()
result = {"logits": logits.detach()}
for k, p in model.named_parameters():
    result["grad." + k] = p.grad
st_io.save(out, result)
