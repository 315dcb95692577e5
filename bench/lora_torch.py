"""The PyTorch twin of bench/lora_bench.cpp: LoRA (or full) fine-tuning of llama2.c's
stories260K on a dataset prepared by `nabla prepare` (train.bin / val.bin), in plain torch.
Same model math (llama2.c's model.py), same windows and the same initial lora_A (drawn from
splitmix64 streams both programs implement), same AdamW recipe, so the losses match step for
step and only the speed and memory differ. Prints one JSON line.
Usage: bench/torch_env.sh 2 /usr/bin/python3 bench/lora_torch.py MODEL DATA_DIR lora|full STEPS
"""
import json
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1
R, ALPHA, TARGETS = 8, 16.0, ("wq", "wv")
BATCH, BLOCK, LR = 16, 128, 3e-3


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):  # [0, 1) with 53 bits
        return (self.next() >> 11) * (1.0 / (1 << 53))


def read_shard(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:8] == b"NABLATOK", path
    width, n = struct.unpack_from("<IQ", raw, 12)
    dtype = np.uint16 if width == 2 else np.uint32
    return torch.from_numpy(np.frombuffer(raw, dtype=dtype, count=n, offset=32).astype(np.int64))


class LoraLinear(torch.nn.Module):
    """PEFT's LoRA: base(x) + lora_B(lora_A(x)) * alpha / r; lora_A from the shared stream."""

    def __init__(self, base, stream):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Linear(base.in_features, R, bias=False)
        self.lora_B = torch.nn.Linear(R, base.out_features, bias=False)
        bound = 1.0 / math.sqrt(base.in_features)  # kaiming_uniform_(a=sqrt(5))
        vals = [(2.0 * stream.uniform() - 1.0) * bound for _ in range(R * base.in_features)]
        with torch.no_grad():
            self.lora_A.weight.copy_(torch.tensor(vals).reshape(R, base.in_features))
            self.lora_B.weight.zero_()
        self.scaling = ALPHA / R

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x) * self.scaling)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):  # x (B, T, H, hs); rotates the pairs (2i, 2i+1)
    xr, xi = x.float().reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
    out_r, out_i = xr * cos - xi * sin, xr * sin + xi * cos
    return torch.stack([out_r, out_i], dim=-1).flatten(3)


class Attention(torch.nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.hs = n_heads, n_kv_heads, dim // n_heads
        self.wq = torch.nn.Linear(dim, n_heads * self.hs, bias=False)
        self.wk = torch.nn.Linear(dim, n_kv_heads * self.hs, bias=False)
        self.wv = torch.nn.Linear(dim, n_kv_heads * self.hs, bias=False)
        self.wo = torch.nn.Linear(n_heads * self.hs, dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = rope(self.wq(x).view(B, T, self.n_heads, self.hs), cos, sin)
        k = rope(self.wk(x).view(B, T, self.n_kv_heads, self.hs), cos, sin)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.hs)
        rep = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        att = (q @ k.transpose(2, 3)) / math.sqrt(self.hs) + mask[:T, :T]
        y = F.softmax(att, dim=-1) @ v  # (B, H, T, hs)
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = torch.nn.Linear(dim, hidden, bias=False)
        self.w2 = torch.nn.Linear(hidden, dim, bias=False)
        self.w3 = torch.nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(torch.nn.Module):
    def __init__(self, dim, hidden, n_heads, n_kv_heads):
        super().__init__()
        self.attention = Attention(dim, n_heads, n_kv_heads)
        self.feed_forward = FeedForward(dim, hidden)
        self.attention_norm = RMSNorm(dim)
        self.ffn_norm = RMSNorm(dim)

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.attention_norm(x), cos, sin, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(torch.nn.Module):
    """llama2.c's model.py, loaded from a version-0 llama2.c checkpoint."""

    def __init__(self, path):
        super().__init__()
        with open(path, "rb") as f:
            dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", f.read(28))
            w = np.frombuffer(f.read(), dtype=np.float32)
        shared = vocab > 0
        vocab = abs(vocab)
        self.tok_embeddings = torch.nn.Embedding(vocab, dim)
        self.layers = torch.nn.ModuleList(
            [Block(dim, hidden, n_heads, n_kv) for _ in range(n_layers)])
        self.norm = RMSNorm(dim)
        hs, kv_dim = dim // n_heads, n_kv * (dim // n_heads)
        off = 0

        def take(*shape):
            nonlocal off
            n = int(np.prod(shape))
            t = torch.from_numpy(w[off:off + n].copy()).reshape(shape)
            off += n
            return t

        with torch.no_grad():
            self.tok_embeddings.weight.copy_(take(vocab, dim))
            L = n_layers
            for name, shape in [("attention_norm", (L, dim)), ("attention.wq", (L, dim, dim)),
                                ("attention.wk", (L, kv_dim, dim)),
                                ("attention.wv", (L, kv_dim, dim)),
                                ("attention.wo", (L, dim, dim)), ("ffn_norm", (L, dim)),
                                ("feed_forward.w1", (L, hidden, dim)),
                                ("feed_forward.w2", (L, dim, hidden)),
                                ("feed_forward.w3", (L, hidden, dim))]:
                t = take(*shape)
                for i, layer in enumerate(self.layers):
                    layer.get_submodule(name).weight.copy_(t[i])
            self.norm.weight.copy_(take(dim))
            off += seq_len * hs  # the old RoPE tables
            self.output = torch.nn.Linear(dim, vocab, bias=False)
            self.output.weight = self.tok_embeddings.weight if shared else torch.nn.Parameter(
                take(vocab, dim))
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
        angles = torch.outer(torch.arange(seq_len).float(), freqs)  # (T, hs/2)
        self.register_buffer("cos", angles.cos()[None, :, None, :], persistent=False)
        self.register_buffer("sin", angles.sin()[None, :, None, :], persistent=False)
        self.register_buffer(
            "mask", torch.full((seq_len, seq_len), float("-inf")).triu(1), persistent=False)

    def forward(self, tokens):  # (B, T) -> (B, T, V)
        T = tokens.shape[1]
        h = self.tok_embeddings(tokens)
        cos, sin = self.cos[:, :T], self.sin[:, :T]
        for layer in self.layers:
            h = layer(h, cos, sin, self.mask)
        return self.output(self.norm(h))


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main():
    model_path, data_dir, mode, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    model = Llama(model_path)
    if mode == "lora":
        model.requires_grad_(False)
        stream = SplitMix64(1)
        for layer in model.layers:
            for name in TARGETS:
                setattr(layer.attention, name, LoraLinear(getattr(layer.attention, name), stream))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    train, val = read_shard(f"{data_dir}/train.bin"), read_shard(f"{data_dir}/val.bin")
    n_val = (val.numel() - 1) // BLOCK

    def evaluate():  # every whole window of val.bin, in batches of BATCH
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for s in range(0, n_val, BATCH):
                idx = torch.arange(s, min(s + BATCH, n_val))[:, None] * BLOCK
                w = val[idx + torch.arange(BLOCK + 1)]
                logits = model(w[:, :-1])
                total += F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                    reduction="sum").item()
                count += w[:, 1:].numel()
        model.train()
        return total / count

    val_before = evaluate()
    rss_setup = rss_mib()
    data = SplitMix64(2)
    losses, times, cpu = [], [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        starts = torch.tensor([data.next() % (train.numel() - BLOCK) for _ in range(BATCH)])
        w = train[starts[:, None] + torch.arange(BLOCK + 1)]
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    skip = 5 if len(times) > 10 else 0
    print(json.dumps({
        "impl": "torch " + torch.__version__, "mode": mode, "threads": torch.get_num_threads(),
        "steps": steps, "ms_per_step": 1e3 * sum(times[skip:]) / len(times[skip:]),
        "cpu_ms_per_step": 1e3 * sum(cpu[skip:]) / len(cpu[skip:]),
        "trainable_params": sum(p.numel() for p in params),
        "all_params": sum(p.numel() for p in model.parameters()),
        "first_loss": losses[0], "final_loss": losses[-1], "val_before": val_before,
        "val_after": evaluate(), "rss_setup_mib": rss_setup,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
