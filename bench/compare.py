#!/usr/bin/env python3
"""Runs `nabla bench` and its PyTorch twin (bench/train_torch.py, bench/decode_torch.py, in
PyTorch's fast configuration through bench/torch_env.sh) case by case, one after the other on
the same machine, and prints a Markdown table with the ratios. Needs an idle machine.
Usage: bench/compare.py [--nabla build/nabla] [--threads 2] [--set standard|quick] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-torch

# (kind, flags shared by both sides)
SETS = {
    "standard": [
        ("train", ["--model", "gpt2", "--batch-size", "4", "--seq-len", "64", "--steps", "10"]),
        ("train", ["--model", "gpt2", "--batch-size", "4", "--seq-len", "64", "--steps", "10",
                   "--dtype", "bf16"]),
        ("train", ["--model", "gpt2", "--batch-size", "4", "--seq-len", "256", "--steps", "5"]),
        ("train", ["--model", "gpt2-baby", "--batch-size", "12", "--seq-len", "64",
                   "--steps", "50"]),
        ("decode", ["--model", "stories15M", "--batch-size", "1"]),
        ("decode", ["--model", "stories15M", "--batch-size", "8"]),
        ("decode", ["--model", "stories110M", "--batch-size", "1"]),
        ("decode", ["--model", "stories110M", "--batch-size", "8"]),
    ],
    "quick": [
        ("train", ["--model", "gpt2-baby", "--batch-size", "12", "--seq-len", "64",
                   "--steps", "20"]),
        ("decode", ["--model", "stories15M", "--batch-size", "1", "--steps", "32"]),
    ],
}


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nabla", default="build/nabla")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default="standard", choices=sorted(SETS))
    ap.add_argument("--json", help="also write every result here, one JSON object per line")
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rows, results = [], []
    for kind, flags in SETS[a.set]:
        ours = run([a.nabla, "bench", kind, *flags, "--threads", str(a.threads), "--json"], env)
        twin = os.path.join(HERE, f"{kind}_torch.py")
        theirs = run([os.path.join(HERE, "torch_env.sh"), str(a.threads), PYTHON, twin, *flags],
                     env)
        results += [dict(ours, side="nabla"), dict(theirs, side="pytorch")]
        shape = f"B={ours['batch']}" + (f" T={ours['seq_len']}" if kind == "train" else "")
        if ours["dtype"] != "f32":
            shape += f" {ours['dtype']}"
        rows.append(
            f"| {kind} | {ours['model']} | {shape} | {ours['ms_per_step']:.1f} | "
            f"{theirs['ms_per_step']:.1f} | {ours['ms_per_step'] / theirs['ms_per_step']:.2f} | "
            f"{ours['tokens_per_s']:.0f} | {theirs['tokens_per_s']:.0f} | "
            f"{ours['peak_rss_mb']:.0f} | {theirs['peak_rss_mb']:.0f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"{a.threads} threads; time ratio = nabla ms / PyTorch ms (below 1: nabla is faster)\n")
    print("| bench | model | shape | nabla ms/step | PyTorch ms/step | time ratio | nabla tok/s "
          "| PyTorch tok/s | nabla peak MB | PyTorch peak MB |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    if a.json:
        with open(a.json, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in results)


if __name__ == "__main__":
    main()
