#!/usr/bin/env python3
"""Prints lines of code per layer (src + include), a size budget in the spirit of tinygrad's sz.py."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[1])
counts = {}
for base in ("src", "include/nabla"):
    for path in (root / base).rglob("*"):
        if path.suffix in (".h", ".cpp") and path.is_file():
            rel = path.relative_to(root / base).parts
            layer = rel[0] if len(rel) > 1 else "(top)"
            lines = sum(1 for line in path.read_text().splitlines()
                        if line.strip() and not line.strip().startswith("//"))
            counts[layer] = counts.get(layer, 0) + lines
for layer, n in sorted(counts.items(), key=lambda kv: -kv[1]):
    print(f"{layer:12s} {n:7d}")
print(f"{'total':12s} {sum(counts.values()):7d}")
