"""Small models of every architecture the permutation tracer supports, with example inputs."""

import torch
import torch.nn.functional as F
from torch import nn


def mlp(seed: int = 0, widths=(6, 10, 7, 3)) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ConvBN(nn.Module):
    """Conv -> BatchNorm -> ReLU twice, max-pool, flatten into a linear head (flattened channel blocks)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 5, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(5)
        self.head = nn.Linear(5 * 4 * 4, 4)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return self.head(torch.flatten(h, 1))


def cnn_sequential() -> nn.Sequential:
    """The same kind of network as layers of a Sequential (nn.Flatten, nn.MaxPool2d modules)."""
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 4))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
                         if c_in != c_out else nn.Identity())

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet(nn.Module):
    """A stem, two identity blocks (one residual stream) and a widening block with a 1x1 shortcut."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 4))
        self.layer2 = BasicBlock(4, 6)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        h = self.layer2(self.layer1(F.relu(self.bn(self.stem(x)))))
        return self.fc(self.pool(h).flatten(1))


class ResidualMLP(nn.Module):
    """Pre-norm residual MLP blocks on one stream (LayerNorm, GELU), scaled by a per-channel parameter."""

    def __init__(self, d=8, hidden=12, depth=2):
        super().__init__()
        self.inp = nn.Linear(5, d)
        self.blocks = nn.ModuleList(nn.ModuleDict({"norm": nn.LayerNorm(d), "fc1": nn.Linear(d, hidden),
                                                   "fc2": nn.Linear(hidden, d)}) for _ in range(depth))
        self.gamma = nn.Parameter(1 + torch.randn(d))
        self.out = nn.Linear(d, 3)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + self.gamma * block["fc2"](F.gelu(block["fc1"](block["norm"](h))))
        return self.out(h)


class Transformer(nn.Module):
    """Token + position embeddings, pre-norm blocks with nn.MultiheadAttention and an MLP, mean pooling."""

    def __init__(self, vocab=11, d=16, heads=4, hidden=24, depth=2, length=6, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(length, d)
        self.ln1 = nn.ModuleList(nn.LayerNorm(d) for _ in range(depth))
        self.attn = nn.ModuleList(nn.MultiheadAttention(d, heads, batch_first=batch_first) for _ in range(depth))
        self.ln2 = nn.ModuleList(nn.LayerNorm(d) for _ in range(depth))
        self.fc1 = nn.ModuleList(nn.Linear(d, hidden) for _ in range(depth))
        self.fc2 = nn.ModuleList(nn.Linear(hidden, d) for _ in range(depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)

    def forward(self, ids):
        h = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        if not self.batch_first:
            h = h.transpose(0, 1)
        for ln1, attn, ln2, fc1, fc2 in zip(self.ln1, self.attn, self.ln2, self.fc1, self.fc2):
            z = ln1(h)
            a, _ = attn(z, z, z, need_weights=False)
            h = h + a
            h = h + fc2(F.gelu(fc1(ln2(h))))
        h = self.norm(h)
        return self.head(h.mean(1 if self.batch_first else 0))


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter, norm and BatchNorm statistic non-trivial values, so a wrong permutation shows."""
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():  # no zero-initialized biases: every tensor must show a permutation
        p.data += 0.1 * torch.randn(p.shape, generator=g)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            m.weight.data = 1 + 0.5 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = 0.5 * torch.randn(m.bias.shape, generator=g)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data = torch.randn(m.running_mean.shape, generator=g)
            m.running_var.data = 0.5 + torch.rand(m.running_var.shape, generator=g)
    return model.eval()


def cases():
    """(name, model factory taking a seed, example input) for every supported architecture."""
    g = torch.Generator().manual_seed(0)
    image = torch.randn(3, 3, 8, 8, generator=g)
    ids = torch.randint(0, 11, (3, 6), generator=g)

    def seeded(cls, **kw):
        def make(seed):
            torch.manual_seed(seed)
            return randomize_norms(cls(**kw), seed)
        return make

    return [
        ("mlp", lambda seed: mlp(seed).eval(), torch.randn(4, 6, generator=g)),
        ("cnn_bn", seeded(ConvBN), image),
        ("cnn_sequential", seeded(cnn_sequential), image),
        ("resnet", seeded(ResNet), image),
        ("residual_mlp", seeded(ResidualMLP), torch.randn(4, 5, generator=g)),
        ("transformer", seeded(Transformer), ids),
        ("transformer_seq_first", seeded(Transformer, batch_first=False), ids),
    ]
