#!/usr/bin/env python3
"""Regenerates every PyTorch fixture under tests/fixtures by running each script in
tools/fixtures/ (all but common.py). Needs Debian's python3-torch; the tests do not.
Usage: python3 tools/make_fixtures.py [NAME...]   (NAME: a script's stem, e.g. elementwise)"""
import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(HERE))


def main() -> None:
    import torch
    torch.use_deterministic_algorithms(True)
    wanted = set(sys.argv[1:])
    for script in sorted(HERE.glob("*.py")):
        if script.stem == "common" or (wanted and script.stem not in wanted):
            continue
        torch.manual_seed(0)
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
