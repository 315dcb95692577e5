"""PyTorch twin of examples/lora_toy.cpp: a LoRA adapter (Hu et al. 2021) on a frozen
Linear(64, 10), rank 4, scaling 1.0, trained with Adam (lr 0.01) on MSE over 1000 random samples
in batches of 100 for 10 epochs."""
import argparse

import torch
import torch.nn as nn


class LoRALayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float):
        super().__init__()
        std_dev = 1 / torch.sqrt(torch.tensor(rank).float())
        self.A = nn.Parameter(torch.randn(in_dim, rank) * std_dev)
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * (x @ self.A @ self.B)


class LinearWithLoRA(nn.Module):
    def __init__(self, linear: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    model = LinearWithLoRA(nn.Linear(64, 10), rank=4, alpha=1.0)
    model.linear.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"Trainable parameters: {trainable}")
    print(f"Total parameters: {total}")

    x = torch.randn(1000, 64)
    y = torch.randn(1000, 10)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    loss_fn = nn.MSELoss()
    batch = 100
    for epoch in range(args.epochs):
        total_loss = 0.0
        for i in range(0, len(x), batch):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
        print(f"Epoch {epoch + 1}/{args.epochs}, Loss: {total_loss / (len(x) // batch):.4f}")


if __name__ == "__main__":
    main()
