"""PyTorch twin of examples/fashion_mlp.cpp: a 784-256-128-10 ReLU MLP on Fashion-MNIST, cross-
entropy, AdamW (lr 1e-3, weight decay 1e-2) with the lr on a cosine from lr to 0 over the
epochs (set at the start of each epoch), batch 128, shuffled each epoch. Prints the loss,
the test accuracy and the time of each epoch (bench/fashion_bench.sh times one epoch)."""
import argparse
import math
import time

import torch
import torch.nn as nn

import fashion_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    x_train, y_train = fashion_data.load(train=True)
    x_test, y_test = fashion_data.load(train=False)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = len(x_train)
    for epoch in range(1, args.epochs + 1):
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / args.epochs))
        start = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        for k in range(0, n, args.batch_size):
            idx = perm[k:k + args.batch_size]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        train_time = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            acc = (model(x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch}: loss {total / n:.4f}, test accuracy {acc:.4f}, "
              f"time {train_time:.2f} s", flush=True)


if __name__ == "__main__":
    main()
