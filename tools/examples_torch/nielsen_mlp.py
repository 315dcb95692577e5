"""PyTorch twin of examples/nielsen_mlp.cpp: the network of Nielsen's "Neural Networks and Deep
Learning", chapter 1 (network.py): sizes [784, 30, 10], sigmoid, quadratic cost, N(0, 1)
initialisation, mini-batch SGD w <- w - (eta / len(mini_batch)) * sum of gradients, eta 3.0,
mini-batch 10, 30 epochs; here on Fashion-MNIST. Prints the test accuracy after each epoch."""
import argparse
import time

import torch

import fashion_data


class Network(torch.nn.Module):
    def __init__(self, sizes: list[int]):
        super().__init__()
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(y, x)) for x, y in zip(sizes[:-1], sizes[1:])])
        self.biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(y)) for y in sizes[1:]])

    def forward(self, a):
        for w, b in zip(self.weights, self.biases):
            a = torch.sigmoid(a @ w.T + b)
        return a


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    x_train, y_train = fashion_data.load(train=True)
    x_test, y_test = fashion_data.load(train=False)
    onehot = torch.nn.functional.one_hot(y_train, 10).float()
    net = Network([784, 30, 10])
    eta, mini_batch_size = 3.0, 10
    # Summed per-sample gradients scaled by eta / m == lr eta on the batch mean of the cost
    # 0.5 * ||a - y||^2.
    opt = torch.optim.SGD(net.parameters(), lr=eta)
    n = len(x_train)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        for k in range(0, n, mini_batch_size):
            idx = perm[k:k + mini_batch_size]
            a = net(x_train[idx])
            loss = 0.5 * ((a - onehot[idx]) ** 2).sum() / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            correct = int((net(x_test).argmax(1) == y_test).sum())
        print(f"Epoch {epoch}: {correct} / {len(x_test)} ({correct / len(x_test):.4f}), "
              f"{time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
