"""The PyTorch twin of `nabla bench decode`: greedy decoding with a KV cache from one BOS
token, timed per step (median after warm-up), for a llama2.c checkpoint (stories260K.bin) or a
random-weight Llama of llama2.c's shapes. The model is llama2.c's model.py with a preallocated
cache, as in Meta's reference. Same flags and JSON fields as nabla's.
Usage: bench/torch_env.sh THREADS /usr/bin/python3 bench/decode_torch.py --model stories110M \
       --batch-size 1 --steps 128
"""
import argparse
import json
import resource
import struct
import time

import torch
import torch.nn.functional as F


class Llama(torch.nn.Module):
    def __init__(self, dim, hidden, layers, heads, kv_heads, vocab, max_seq, max_batch):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.emb = torch.nn.Embedding(vocab, dim)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            m = torch.nn.Module()
            m.wq, m.wk = lin(dim, dim), lin(dim, kv_heads * self.hd)
            m.wv, m.wo = lin(dim, kv_heads * self.hd), lin(dim, dim)
            m.w1, m.w2, m.w3 = lin(dim, hidden), lin(hidden, dim), lin(dim, hidden)
            m.an, m.fn = torch.nn.Parameter(torch.ones(dim)), torch.nn.Parameter(torch.ones(dim))
            m.k = torch.zeros(max_batch, max_seq, kv_heads, self.hd)
            m.v = torch.zeros(max_batch, max_seq, kv_heads, self.hd)
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(dim))
        self.out = lin(dim, vocab)
        freqs = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        angles = torch.outer(torch.arange(max_seq).float(), freqs)
        self.cos, self.sin = angles.cos(), angles.sin()

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def rope(self, x, pos):
        c, s = self.cos[pos:pos + x.shape[1]], self.sin[pos:pos + x.shape[1]]
        xr, xi = x.float().reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
        c, s = c[None, :, None, :], s[None, :, None, :]
        return torch.stack((xr * c - xi * s, xr * s + xi * c), -1).flatten(3)

    def forward(self, tokens, pos):  # one new token per row (no causal mask needed)
        B, T = tokens.shape
        h = self.emb(tokens)
        for m in self.layers:
            x = self.rms(h, m.an)
            q = self.rope(m.wq(x).view(B, T, self.heads, self.hd), pos)
            k = self.rope(m.wk(x).view(B, T, self.kv_heads, self.hd), pos)
            m.k[:B, pos:pos + T] = k
            m.v[:B, pos:pos + T] = m.wv(x).view(B, T, self.kv_heads, self.hd)
            keys, values = m.k[:B, :pos + T], m.v[:B, :pos + T]
            rep = self.heads // self.kv_heads
            if rep > 1:
                keys, values = keys.repeat_interleave(rep, 2), values.repeat_interleave(rep, 2)
            q, keys, values = q.transpose(1, 2), keys.transpose(1, 2), values.transpose(1, 2)
            scores = q @ keys.transpose(2, 3) / self.hd ** 0.5
            att = F.softmax(scores, -1) @ values
            h = h + m.wo(att.transpose(1, 2).reshape(B, T, -1))
            x = self.rms(h, m.fn)
            h = h + m.w2(F.silu(m.w1(x)) * m.w3(x))
        return self.out(self.rms(h[:, -1:], self.norm))


def load_llama2c(path, max_batch):
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack_from("<7i", raw)
    model = Llama(dim, hidden, layers, heads, kv_heads, abs(vocab), seq, max_batch)
    off = 28
    def take(*shape):
        nonlocal off
        n = 1
        for s in shape:
            n *= s
        t = torch.frombuffer(bytearray(raw[off:off + 4 * n]), dtype=torch.float32).view(*shape)
        off += 4 * n
        return t
    hd = dim // heads
    with torch.no_grad():
        model.emb.weight.copy_(take(abs(vocab), dim))
        L = model.layers
        for m in L: m.an.copy_(take(dim))
        for m in L: m.wq.weight.copy_(take(dim, dim))
        for m in L: m.wk.weight.copy_(take(kv_heads * hd, dim))
        for m in L: m.wv.weight.copy_(take(kv_heads * hd, dim))
        for m in L: m.wo.weight.copy_(take(dim, dim))
        for m in L: m.fn.copy_(take(dim))
        for m in L: m.w1.weight.copy_(take(hidden, dim))
        for m in L: m.w2.weight.copy_(take(dim, hidden))
        for m in L: m.w3.weight.copy_(take(hidden, dim))
        model.norm.copy_(take(dim))
        off += 4 * seq * hd  # llama2.c's freq_cis_real/imag, unused
        model.out.weight.copy_(model.emb.weight if vocab > 0 else take(abs(vocab), dim))
    return model


SHAPES = {  # llama2.c's shapes, as `nabla bench decode`: dim, hidden, layers, heads
    "stories15M": (288, 768, 6, 6),
    "stories42M": (512, 1376, 8, 8),
    "stories110M": (768, 2048, 12, 12),
}


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="stories110M", help="a shape name or a llama2.c .bin")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    B, seq = a.batch_size, a.warmup + a.steps + 2
    if a.model in SHAPES:
        dim, hidden, layers, heads = SHAPES[a.model]
        model = Llama(dim, hidden, layers, heads, heads, 32000, seq, B)
        model.out.weight = model.emb.weight  # tied, as llama2.c's stories models
    else:
        model = load_llama2c(a.model, B)
    model.eval()
    tokens, ms = torch.ones(B, 1, dtype=torch.long), []  # BOS
    for pos in range(a.warmup + a.steps + 1):
        start = time.perf_counter()
        tokens = model(tokens, pos).argmax(-1)
        if pos > a.warmup:
            ms.append(1e3 * (time.perf_counter() - start))
    ms.sort()
    med = ms[len(ms) // 2] if len(ms) % 2 else 0.5 * (ms[len(ms) // 2 - 1] + ms[len(ms) // 2])
    print(json.dumps({
        "bench": "decode", "model": a.model, "params": sum(p.numel() for p in model.parameters()),
        "batch": B, "dtype": "f32", "threads": torch.get_num_threads(), "steps": a.steps,
        "ms_per_step": round(med, 3), "ms_min": round(ms[0], 3),
        "tokens_per_s": round(B / (med / 1e3), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
        flush=True)


if __name__ == "__main__":
    main()
