"""PyTorch twin of examples/simple_net.cpp: Linear(10, 5) -> ReLU -> Linear(5, 1) -> Sigmoid,
BCELoss, one SGD step (lr 0.01), then each named parameter's gradient.
--fixed replaces the random initialisation and data with closed-form values, so the C++ twin
prints the same numbers (tests/examples/examples_test.cpp checks that)."""
import argparse
import math

import torch
import torch.nn as nn
import torch.optim as optim


def fixed_(t: torch.Tensor, phase: float) -> None:
    """Deterministic values in [-0.3, 0.3]: 0.3 * sin(1.7 * i + phase) for flat index i."""
    with torch.no_grad():
        n = t.numel()
        t.copy_(torch.tensor([0.3 * math.sin(1.7 * i + phase) for i in range(n)]).view_as(t))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixed", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    model = nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01)

    x = torch.randn(4, 10)
    y = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    if args.fixed:
        for k, p in enumerate(model.parameters()):
            fixed_(p, float(k))
        fixed_(x, 10.0)
        x.mul_(10.0)

    optimizer.zero_grad()
    output = model(x)
    loss = criterion(output, y)
    loss.backward()
    optimizer.step()

    print(f"loss: {loss.item():.4f}")
    for name, param in model.named_parameters():
        print(name, param.grad)


if __name__ == "__main__":
    main()
