# Reference ViT with timm's structure and parameter names, in plain PyTorch 1.13 (timm is not
# installed here). Usage: vit_ref.py CONFIG_JSON WEIGHTS INPUT OUT, all paths; writes logits and
# the gradient of cross-entropy w.r.t. every parameter to OUT (safetensors).
import json, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))
import st_io  # noqa: E402


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.hd ** -0.5) @ k.transpose(-2, -1)
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = nn.Parameter(init * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["embedDim"]
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = Attention(d, c["numHeads"], c["qkvBias"])
        self.ls1 = LayerScale(d, c["initValues"]) if c["initValues"] is not None else nn.Identity()
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = Mlp(d, int(d * c["mlpRatio"]))
        self.ls2 = LayerScale(d, c["initValues"]) if c["initValues"] is not None else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Conv2d(c["inChans"], c["embedDim"], c["patchSize"], c["patchSize"])

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["embedDim"]
        n = (c["imageSize"] // c["patchSize"]) ** 2
        self.avg = c["globalPool"] == "avg"
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
        self.patch_embed = PatchEmbed(c)
        self.blocks = nn.Sequential(*[Block(c) for _ in range(c["depth"])])
        self.norm = nn.Identity() if self.avg else nn.LayerNorm(d, eps=1e-6)
        self.fc_norm = nn.LayerNorm(d, eps=1e-6) if self.avg else nn.Identity()
        self.head = nn.Linear(d, c["numClasses"])

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        x = x[:, 1:].mean(1) if self.avg else x[:, 0]
        return self.head(self.fc_norm(x))


cfg_path, weights, inputs, out = sys.argv[1:5]
cfg = json.load(open(cfg_path))
torch.set_num_threads(1)
model = VisionTransformer(cfg)
model.load_state_dict(st_io.load(weights), strict=True)
io = st_io.load(inputs)
logits = model(io["x"])
F.cross_entropy(logits, io["y"]).backward()
result = {"logits": logits.detach()}
for k, p in model.named_parameters():
    result["grad." + k] = p.grad
st_io.save(out, result)
