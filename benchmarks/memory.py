"""Memory and time of one training step against the sequence length T, for plain BPTT,
checkpointed BPTT, truncated BPTT and OTTT on a conv SNN.
``python benchmarks/memory.py [--quick] [--window 16] [--batch 4]``.

Memory is what a training step holds for its backward pass at its peak (the tensors
autograd saves, each counted from when it is saved until its graph is freed:
``spikestack.train.memory.saved_tensor_bytes``) plus the input sequence itself: a
deterministic count, not the noisy process RSS. Time is the wall time of forward and
backward divided by T, the median of a few repeats. The last table extrapolates each
mode's bytes linearly in T (fitted on the two longest runs) to the largest T whose step
fits in 4 GiB.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from spikestack.layers import Flatten, TimeDistributed
from spikestack.neurons import LIF
from spikestack.train.memory import TruncatedBPTT, checkpointed_forward, saved_tensor_bytes
from spikestack.train.online import OnlineTraining

BUDGET = 4 * 2**30


def conv_snn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 16, 3, padding=1)), LIF(),
        TimeDistributed(nn.AvgPool2d(2)),
        TimeDistributed(nn.Conv2d(16, 32, 3, padding=1)), LIF(),
        TimeDistributed(nn.AvgPool2d(2)), Flatten(),
        TimeDistributed(nn.Linear(32 * 8 * 8, 128)), LIF(),
        TimeDistributed(nn.Linear(128, 10)),
    )  # fmt: skip


def ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out.mean(0), y)


def step(model: nn.Module, mode: str, x: torch.Tensor, y: torch.Tensor, window: int) -> None:
    backward = lambda loss: loss.backward()  # noqa: E731
    if mode == "bptt":
        ce(model(x), y).backward()
    elif mode == "checkpointed":
        ce(checkpointed_forward(model, x, window), y).backward()
    elif mode == "truncated":
        TruncatedBPTT(window).run(model, x, y, ce, backward)
    else:
        OnlineTraining(model, "ottt").run(model, x, y, ce, backward)


def measure(mode: str, T: int, args: argparse.Namespace) -> tuple[int, float]:
    model = conv_snn()
    x = torch.rand(T, args.batch, 2, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    _, held = saved_tensor_bytes(lambda: step(model, mode, x, y, args.window))
    times = []
    for _ in range(args.repeats):
        model.zero_grad()
        start = time.perf_counter()
        step(model, mode, x, y, args.window)
        times.append((time.perf_counter() - start) / T)
    return held + x.numel() * x.element_size(), statistics.median(times)


def largest_t(points: list[tuple[int, int]]) -> str:
    (t1, b1), (t2, b2) = points[-2:]
    slope = (b2 - b1) / (t2 - t1)
    base = b1 - slope * t1
    if slope <= 0:
        return "unbounded"
    return f"{int((BUDGET - base) / slope):,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T in {8, 32} only")
    parser.add_argument("--window", type=int, default=16, help="checkpoint / truncation window")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lengths = [8, 32] if args.quick else [8, 32, 128, 512]
    modes = ["bptt", "checkpointed", "truncated", "ottt"]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results = {mode: [measure(mode, T, args) for T in lengths] for mode in modes}
    print(
        f"conv SNN, batch {args.batch}, 2x32x32 input, window {args.window}, {torch.get_num_threads()} threads"
    )
    print("\npeak memory held for backward + input (MiB)")
    print(f"{'T':>6} " + " ".join(f"{m:>13}" for m in modes))
    for i, T in enumerate(lengths):
        print(f"{T:>6} " + " ".join(f"{results[m][i][0] / 2**20:>13.1f}" for m in modes))
    print("\ntime per step, forward + backward (ms), and its ratio to BPTT's")
    print(f"{'T':>6} " + " ".join(f"{m:>13}" for m in modes))
    for i, T in enumerate(lengths):
        base = results["bptt"][i][1]
        cells = [f"{results[m][i][1] * 1e3:7.2f} x{results[m][i][1] / base:4.2f}" for m in modes]
        print(f"{T:>6} " + " ".join(f"{c:>13}" for c in cells))
    print("\nlargest T whose step fits in 4 GiB (linear in T, fitted on the two longest runs)")
    for mode in modes:
        points = [(T, results[mode][i][0]) for i, T in enumerate(lengths)]
        print(f"  {mode:<13} {largest_t(points)}")


if __name__ == "__main__":
    main()
