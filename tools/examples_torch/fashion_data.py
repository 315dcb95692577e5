"""Fashion-MNIST from /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist) as
float tensors in [0, 1] and int64 labels, for the PyTorch twins of the examples."""
import gzip
import pathlib

import numpy as np
import torch

DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _idx(path: pathlib.Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    sizes = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(sizes)


def load(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 784) float32 pixels / 255 and (N) int64 labels."""
    split = "train" if train else "t10k"
    images = _idx(DIR / f"{split}-images-idx3-ubyte.gz")
    labels = _idx(DIR / f"{split}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels.astype(np.int64))
