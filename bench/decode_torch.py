"""The PyTorch twin of bench/decode_bench.cpp: greedy decoding with a KV cache, 128 new tokens
from BOS, batch 1 and 8, for llama2.c's stories260K (when its .bin is given) and random-weight
Llamas of the stories15M and stories110M shapes. The model is llama2.c's model.py with a
preallocated cache, as in Meta's reference; the prompt is one token, so every step is a decode.
Prints one JSON line per case: {"model", "batch", "threads", "tok_s"}.
Usage: bench/torch_env.sh THREADS /usr/bin/python3 bench/decode_torch.py [stories260K.bin]
"""
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

GEN_LEN = 128


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


@torch.no_grad()
def decode(model, batch):
    tokens = torch.ones(batch, 1, dtype=torch.long)  # BOS
    for pos in range(GEN_LEN):
        tokens = model(tokens, pos).argmax(-1)
    return tokens


def main():
    torch.manual_seed(0)
    cases = []
    if len(sys.argv) > 1:
        cases.append(("stories260K", lambda b: load_llama2c(sys.argv[1], b)))
    cases.append(("stories15M_shape", lambda b: Llama(288, 768, 6, 6, 6, 32000, 256, b)))
    cases.append(("stories110M_shape", lambda b: Llama(768, 2048, 12, 12, 12, 32000, 256, b)))
    for name, make in cases:
        for batch in (1, 8):
            model = make(batch).eval()
            decode(model, batch)  # warm-up
            runs, start = 0, time.perf_counter()
            while runs < 2 or time.perf_counter() - start < 2.0:
                decode(model, batch)
                runs += 1
            rate = runs * batch * GEN_LEN / (time.perf_counter() - start)
            print(json.dumps({"model": name, "batch": batch, "threads": torch.get_num_threads(),
                              "tok_s": round(rate, 1)}), flush=True)


if __name__ == "__main__":
    main()
