#!/usr/bin/python3
"""torch_models.py — the peer: the bench's models in PyTorch.

    torch_models.py MODEL MODE BATCH THREADS REPS

    torch_models.py MODEL onnx BATCH FILE

MODEL seed_mlp | mnist_mlp | seed_cnn | char_lstm | char_lstm256 |
reverse_transformer (as in examples/, the same sizes, char_lstm256 the
char LSTM over 256 steps; weights random); MODE train (one step:
forward, loss, backward, Adam; the sequence models clip the gradients' norm
as their train blocks do), infer (eager), frozen (traced, frozen and
optimized for inference) or job (the tutorial's 150 epochs of 77 steps of
10 on 768 rows, timed once). Prints the median over REPS blocks of
microseconds a step, the fastest, and the process's peak RSS, like
bench/run_nnc.c. MODE onnx writes the model in inference mode to FILE as
ONNX (torch.onnx.export) for ONNX Runtime (bench/ort_run.js), the batch
dimension fixed at BATCH.
"""
import math
import resource
import sys
import time

import torch
from torch import nn


class CharLSTM(nn.Module):
    """examples/char_lstm.nn: embedding(256, 32), lstm(128) over the steps, dense(256) at every step"""
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(256, 32)
        self.lstm = nn.LSTM(32, 128, batch_first=True)
        self.out = nn.Linear(128, 256)

    def forward(self, ids):
        h, _ = self.lstm(self.embed(ids))
        return self.out(h).reshape(-1, 256)   # logits for every position


def sinusoids(t, d):
    pos = torch.arange(t, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class Reverse(nn.Module):
    """examples/reverse_transformer.nn: ids [N, 16] = 8 source tokens then 8 decoder inputs, vocabulary
    12, d_model 32, 4 heads, feed-forward 64, one post-norm encoder layer and one decoder layer (causal
    self-attention, then attention over the encoder's output), no dropout, no final norms (nnc's blocks
    have none: so nn.Transformer's layers, not nn.Transformer itself), sinusoidal positions, dense(12)."""
    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(12, 32)
        self.tgt_embed = nn.Embedding(12, 32)
        self.register_buffer("pe", sinusoids(8, 32))
        self.register_buffer("causal", torch.triu(torch.full((8, 8), float("-inf")), diagonal=1))
        self.encoder = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.out = nn.Linear(32, 12)

    def forward(self, ids):
        memory = self.encoder(self.src_embed(ids[:, :8]) + self.pe)
        d = self.decoder(self.tgt_embed(ids[:, 8:]) + self.pe, memory, tgt_mask=self.causal)
        return self.out(d).reshape(-1, 12)


def model(name):
    if name == "char_lstm":
        return CharLSTM(), (32,), 256
    if name == "char_lstm256":
        return CharLSTM(), (256,), 256
    if name == "reverse_transformer":
        return Reverse(), (16,), 12
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
    name, mode, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(1)
    net, shape, classes = model(name)
    seq = name in ("char_lstm", "char_lstm256", "reverse_transformer")
    if mode == "onnx":
        net.eval()
        x = torch.randint(0, classes, (batch,) + shape) if seq else torch.rand((batch,) + shape) * 2 - 1
        torch.onnx.export(net, (x,), sys.argv[4], input_names=["x"], output_names=["y"], opset_version=14)
        return
    threads, reps = int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    rows = 768 if mode == "job" else batch
    clip = seq   # the sequence models' train blocks clip the gradients' norm at 1
    if seq:
        x = torch.randint(0, classes, (rows,) + shape)
        positions = 8 if name == "reverse_transformer" else shape[0]
        y = torch.randint(0, classes, (rows * positions,))
        loss_fn = nn.CrossEntropyLoss()
    elif classes == 1:
        x = torch.rand((rows,) + shape) * 2 - 1
        y = torch.ones(rows, 1)
        loss_fn = nn.BCELoss()
    else:
        x = torch.rand((rows,) + shape) * 2 - 1
        y = torch.randint(0, classes, (rows,))
        loss_fn = nn.CrossEntropyLoss()   # softmax folded into the loss, as nnc fuses it
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
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
