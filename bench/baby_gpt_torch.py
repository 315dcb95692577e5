"""The PyTorch twin of nanoGPT's CPU baby-GPT run as `bench/baby_gpt.sh` gives it to nabla:
the same dataset (nabla's token shards, read here), model (bench/train_torch.py's GPT, preset
gpt2-baby), recipe (batch 12 x 64, AdamW lr 1e-3 -> 1e-4 on nabla's warmup + cosine, betas
0.9/0.99, weight decay 0.1 on matrices, clipping at 1.0) and evaluation (every 250 steps, 20
sequential validation batches from the start of val.bin). Prints one JSON object: wall_s
(the whole run, evaluations included), ms_per_step (median), val_loss, peak_rss_mb.
Usage: bench/torch_env.sh 2 /usr/bin/python3 bench/baby_gpt_torch.py DATA_DIR [--steps 2000]
"""
import argparse
import json
import math
import resource
import time

import numpy as np
import torch

from train_torch import GPT, PRESETS


def read_shard(path):
    raw = np.fromfile(path, dtype=np.uint8)
    assert raw[:8].tobytes() == b"NABLATOK", f"{path}: not a nabla token shard"
    width, n = int(raw[12:16].view(np.uint32)[0]), int(raw[16:24].view(np.uint64)[0])
    return torch.from_numpy(raw[32:32 + width * n].view(np.uint16 if width == 2 else np.uint32)
                            .astype(np.int64))


def lr_at(it, warmup, decay_steps, lr_max, lr_min):  # nabla's optim::cosine_with_warmup_lr
    if it < warmup:
        return lr_max * (it + 1) / (warmup + 1)
    if it > decay_steps:
        return lr_min
    ratio = (it - warmup) / (decay_steps - warmup)
    return lr_min + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr_max - lr_min)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    a = ap.parse_args()
    B, T, eval_every, eval_iters = 12, 64, 250, 20
    train, val = read_shard(f"{a.data}/train.bin"), read_shard(f"{a.data}/val.bin")
    vocab, positions, C, layers, heads = PRESETS["gpt2-baby"]
    vocab = int(max(train.max(), val.max())) + 1
    torch.manual_seed(a.seed)
    model = GPT(vocab, positions, C, layers, heads, 0.0)
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), foreach=True)
    windows = (len(val) - 1) // T
    val_starts = [((i * B + r) % windows) * T for i in range(eval_iters) for r in range(B)]

    @torch.no_grad()
    def evaluate():
        model.eval()
        losses = []
        for i in range(eval_iters):
            rows = torch.stack([val[s:s + T + 1] for s in val_starts[i * B:(i + 1) * B]])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
                losses.append(model(rows[:, :T], rows[:, 1:]).item())
        model.train()
        return sum(losses) / len(losses)

    start, ms, val_loss = time.perf_counter(), [], None
    for it in range(a.steps):
        t0 = time.perf_counter()
        starts = torch.randint(len(train) - T, (B,))
        rows = torch.stack([train[s:s + T + 1] for s in starts])
        for g in opt.param_groups:
            g["lr"] = lr_at(it, 100, a.steps, 1e-3, 1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
            loss = model(rows[:, :T], rows[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        ms.append(1e3 * (time.perf_counter() - t0))
        if (it + 1) % eval_every == 0 or it + 1 == a.steps:
            val_loss = evaluate()
    wall = time.perf_counter() - start
    ms.sort()
    print(json.dumps({"bench": "baby_gpt", "side": "pytorch", "dtype": a.dtype, "steps": a.steps,
                      "threads": torch.get_num_threads(), "wall_s": round(wall, 2),
                      "ms_per_step": round(ms[len(ms) // 2], 3), "val_loss": round(val_loss, 4),
                      "peak_rss_mb": round(
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
