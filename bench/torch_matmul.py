"""PyTorch twin of bench/matmul_bench.cpp: GPT-2 124M linear layers at M = 256 rows, weights in
nn.Linear's (out, in) layout; fwd = F.linear(x, W), dx = dy @ W, dW = dy.t() @ x, in f32 and
bf16 (torch.matmul on bf16 tensors). Prints one line per case: NAME GFLOP/s (best of repeats).
Run: LD_PRELOAD=libtcmalloc_minimal.so.4 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp
     OMP_NUM_THREADS=2 python3 bench/torch_matmul.py [--min-time S] [--repeats N] [--filter STR]"""
import argparse
import time

import torch
import torch.nn.functional as F

ROWS = 256
SHAPES = [(768, 2304), (768, 3072), (3072, 768), (768, 50257)]  # (in, out)


def problem(pass_, in_, out):
    """(M, K, N) of the GEMM, named like the C++ benchmark."""
    return {"fwd": (ROWS, in_, out), "dx": (ROWS, out, in_), "dW": (out, ROWS, in_)}[pass_]


def best_gflops(fn, flops, min_time, repeats):
    fn()  # warm-up: primitive creation, allocator
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, flops * n / elapsed / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}")
    for pass_ in ("fwd", "dx", "dW"):
        for in_, out in SHAPES:
            for dtype, tag in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
                M, K, N = problem(pass_, in_, out)
                name = f"BM_matmul_{tag}/{pass_}_{M}x{K}x{N}"
                if args.filter not in name:
                    continue
                x = torch.randn(ROWS, in_).to(dtype)
                w = (torch.randn(out, in_) * 0.02).to(dtype)
                dy = torch.randn(ROWS, out).to(dtype)
                fn = {"fwd": lambda: F.linear(x, w), "dx": lambda: torch.matmul(dy, w),
                      "dW": lambda: torch.matmul(dy.t(), x)}[pass_]
                with torch.no_grad():
                    g = best_gflops(fn, 2.0 * M * N * K, args.min_time, args.repeats)
                print(f"{name} {g:.1f}", flush=True)


if __name__ == "__main__":
    main()
