#!/usr/bin/env python3
"""Checks the layering of DESIGN.md: a file in a layer includes nabla headers only from that
layer or from layers below it. Usage: check_layers.py REPO_ROOT. Exits 1 listing violations."""
import pathlib
import re
import sys

# rank: a layer may include layers of strictly lower rank (and itself).
RANK = {
    "core": 0, "kernels": 1, "autograd": 2, "ops": 3, "nn": 4, "optim": 5, "io": 5,
    "tokenizers": 6, "dist": 6, "models": 7, "data": 7, "lora": 8, "generate": 9,
    "train": 10, "cli": 11,
}
INCLUDE = re.compile(r'#include\s+"nabla/([a-z_]+)/')


def layer_of(path: pathlib.Path, root: pathlib.Path) -> str | None:
    parts = path.relative_to(root).parts
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[0] == "include" and len(parts) > 3 and parts[1] == "nabla":
        return parts[2]
    return None


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    bad = []
    for path in sorted(list((root / "src").rglob("*.[ch]*")) + list((root / "include").rglob("*.h"))):
        layer = layer_of(path, root)
        if layer is None:
            continue
        if layer not in RANK:
            bad.append(f"{path.relative_to(root)}: folder '{layer}' is not a layer of DESIGN.md")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.search(line)
            if not m:
                continue
            dep = m.group(1)
            if dep not in RANK:
                bad.append(f"{path.relative_to(root)}:{n}: includes unknown layer '{dep}'")
            elif dep != layer and RANK[dep] >= RANK[layer]:
                bad.append(f"{path.relative_to(root)}:{n}: layer '{layer}' includes '{dep}', "
                           f"which is not below it")
    for b in bad:
        print(b)
    print(f"layering: {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
