"""The PyTorch twin of `nabla bench train`: GPT-2 training steps on random tokens with
nanoGPT's model (tanh GELU, tied head, GPT-2 initialisation), cross-entropy, clipping at 1.0
and AdamW with nanoGPT's decay groups (lr 6e-4, betas 0.9/0.95, weight decay 0.1). Same
flags and the same JSON fields as nabla's: ms_per_step is the median of the timed steps.
--dtype bf16 runs the forward under CPU autocast (bf16 matmuls, f32 weights).
Usage: bench/torch_env.sh THREADS /usr/bin/python3 bench/train_torch.py --model gpt2 \
       --batch-size 4 --seq-len 64 --steps 10 [--dtype bf16]
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F

# nabla's presets (models/gpt2.cpp): (vocab, positions, width, layers, heads).
PRESETS = {
    "gpt2": (50257, 1024, 768, 12, 12),
    "gpt2-medium": (50257, 1024, 1024, 24, 16),
    "gpt2-large": (50257, 1024, 1280, 36, 20),
    "gpt2-xl": (50257, 1024, 1600, 48, 25),
    "gpt2-tiny": (128, 32, 64, 2, 4),
    "gpt2-baby": (65, 64, 128, 4, 4),
}


class Block(torch.nn.Module):
    def __init__(self, C, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        self.c_attn, self.attn_proj = torch.nn.Linear(C, 3 * C), torch.nn.Linear(C, C)
        self.c_fc, self.mlp_proj = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)
        self.drop = torch.nn.Dropout(dropout)

    def attention(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = self.drop(F.softmax(att.masked_fill(mask[:T, :T], float("-inf")), dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.drop(self.attn_proj(y))

    def forward(self, x, mask):
        x = x + self.attention(self.ln_1(x), mask)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.drop(self.mlp_proj(h))


class GPT(torch.nn.Module):
    def __init__(self, vocab, positions, C, layers, heads, dropout):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(vocab, C), torch.nn.Embedding(positions, C)
        self.drop = torch.nn.Dropout(dropout)
        self.h = torch.nn.ModuleList(Block(C, heads, dropout) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(C)
        self.register_buffer(
            "mask", torch.triu(torch.ones(positions, positions, dtype=torch.bool), 1))
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("proj.weight") else 0.02
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
        for block in self.h:
            x = block(x, self.mask)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2", choices=sorted(PRESETS))
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    vocab, positions, C, layers, heads = PRESETS[a.model]
    torch.manual_seed(a.seed)
    model = GPT(vocab, positions, C, layers, heads, a.dropout)
    params = [p for p in model.parameters()]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95), foreach=True)
    B, T = a.batch_size, a.seq_len
    ms, loss = [], 0.0
    for step in range(a.warmup + a.steps):
        batch = torch.randint(vocab, (B, T + 1))
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
            out = model(batch[:, :T], batch[:, 1:])
        out.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = out.item()
        if step >= a.warmup:
            ms.append(1e3 * (time.perf_counter() - start))
    ms.sort()
    med = ms[len(ms) // 2] if len(ms) % 2 else 0.5 * (ms[len(ms) // 2 - 1] + ms[len(ms) // 2])
    n = sum(p.numel() for p in params)
    tok_s = B * T / (med / 1e3)
    print(json.dumps({
        "bench": "train", "model": a.model, "params": n, "batch": B, "seq_len": T,
        "dtype": a.dtype, "threads": torch.get_num_threads(), "steps": a.steps,
        "ms_per_step": round(med, 3), "ms_min": round(ms[0], 3), "tokens_per_s": round(tok_s, 1),
        "gflop_per_s": round((6 * n + 12 * layers * C * T) * tok_s / 1e9, 2),
        "loss": round(loss, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
        flush=True)


if __name__ == "__main__":
    main()
