#!/usr/bin/python3
"""torch_models.py — the peer: the bench's models in PyTorch.

    torch_models.py MODEL MODE BATCH THREADS REPS

MODEL seed_mlp | mnist_mlp | seed_cnn (as in examples/); MODE train (one
step: forward, loss, backward, Adam), infer (eager), frozen (traced, frozen
and optimized for inference) or job (the tutorial's 150 epochs of 77 steps
of 10 on 768 rows, timed once). Prints the median over REPS blocks of
microseconds a step, the fastest, and the process's peak RSS, like
bench/run_nnc.c.
"""
import resource
import sys
import time

import torch
from torch import nn


def model(name):
    if name == "seed_mlp":
        return nn.Sequential(nn.Linear(8, 10), nn.ReLU(), nn.Linear(10, 1), nn.Sigmoid()), (8,), 1
    if name == "mnist_mlp":
        return (nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10)),
                (784,), 10)
    # the seed CNN in PyTorch's own layout (NCHW)
    return (nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10)), (3, 32, 32), 10)


def main():
    name, mode, batch, threads, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net, shape, classes = model(name)
    rows = 768 if mode == "job" else batch
    x = torch.rand((rows,) + shape) * 2 - 1
    if classes == 1:
        y = torch.ones(rows, 1)
        loss_fn = nn.BCELoss()
    else:
        y = torch.randint(0, classes, (rows,))
        loss_fn = nn.CrossEntropyLoss()   # softmax folded into the loss, as nnc fuses it
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return loss

    if mode == "job":
        t0 = time.perf_counter()
        for _ in range(150):
            for s in range(0, rows, batch):
                step(x[s:s + batch], y[s:s + batch])
        t = time.perf_counter() - t0
        print("seconds=%.6f maxrss_kb=%d" % (t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
        return
    if mode == "train":
        run = lambda: step(x, y)
    else:
        net.eval()
        f = net
        if mode == "frozen":
            with torch.no_grad():
                f = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, x)))
        def run():
            with torch.no_grad():
                return f(x)
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.05 or k < 3:
        run()
        k += 1
    blocks = []
    for _ in range(reps):
        b0 = time.perf_counter()
        for _ in range(k):
            run()
        blocks.append((time.perf_counter() - b0) / k * 1e6)
    blocks.sort()
    print("us_per_step=%.3f min=%.3f maxrss_kb=%d" % (blocks[len(blocks) // 2], blocks[0],
                                                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


main()
