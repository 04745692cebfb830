# The Python PyTorch peer of bench/engine: the same ViT and the same loop, timed the same way.
# Reads its settings as JSON on stdin, prints one JSON object of images/s per configuration.
import json, sys, time, math
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.load(sys.stdin)
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, h):
        b, n, c = h.shape
        hd = c // self.heads
        qkv = self.qkv(self.norm1(h)).reshape(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * hd ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        h = h + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return h + self.fc2(F.gelu(self.fc1(self.norm2(h))))


class Vit(nn.Module):
    def __init__(self, c):
        super().__init__()
        dim, p = c["dim"], c["patch"]
        tokens = (c["imageSize"] // p) ** 2 + 1
        self.patch = nn.Conv2d(3, dim, p, p)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, c["heads"], dim * c["mlpRatio"]) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, c["classes"])

    def forward(self, x):
        h = self.patch(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), h], 1) + self.pos_embed
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.norm(h)[:, 0])


def measure(kind, precision, trainable):
    model = Vit(cfg["vit"])
    if trainable == "last-half":
        for p in model.parameters():
            p.requires_grad_(False)
        for blk in model.blocks[len(model.blocks) // 2:]:
            for p in blk.parameters():
                p.requires_grad_(True)
        for m in (model.norm, model.head):
            for p in m.parameters():
                p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    b = cfg["batch"]
    x = torch.randn(b, 3, cfg["vit"]["imageSize"], cfg["vit"]["imageSize"])
    y = torch.randint(0, cfg["vit"]["classes"], (b,))
    bf16 = precision == "bf16"

    def step():
        if kind == "train":
            model.train()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:
            model.eval()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model(x)

    for _ in range(cfg["warmup"]):
        step()
    t0 = time.perf_counter()
    for _ in range(cfg["steps"]):
        step()
    return b * cfg["steps"] / (time.perf_counter() - t0)


out = {}
for c in cfg["configs"]:
    out[c["id"]] = measure(c["kind"], c["precision"], c["trainable"])
print(json.dumps(out))
