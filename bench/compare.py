#!/usr/bin/env python3
"""Runs the cases of `nabla bench`'s set (as `nabla bench --list` gives them) and their PyTorch
twins (bench/train_torch.py, bench/decode_torch.py, in PyTorch's fast configuration through
bench/torch_env.sh) case by case, one after the other on the same machine, and prints a
Markdown table with the ratios. Needs an idle machine.
Usage: bench/compare.py [--nabla build/nabla] [--threads 2] [--set standard|quick] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-torch


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cases(nabla, set_name):
    """The set's (kind, flags shared by both sides), as nabla lists them (bench --list)."""
    out = subprocess.run([nabla, "bench", "--list", "--set", set_name], check=True,
                         capture_output=True, text=True).stdout
    return [(c["bench"], c["args"]) for c in map(json.loads, out.splitlines())]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nabla", default="build/nabla")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default="standard", choices=["standard", "quick"])
    ap.add_argument("--json", help="also write every result here, one JSON object per line")
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rows, results = [], []
    for kind, flags in cases(a.nabla, a.set):
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
