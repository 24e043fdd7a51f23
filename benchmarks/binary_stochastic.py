"""Binary stochastic learning against full-precision Adam on digits, and the operations saved.
``python benchmarks/binary_stochastic.py [--epochs 20] [--levels 128] [--write-noise 0]``.

The same MLP (64-128-10, sigmoid hidden layer) is trained on scikit-learn's digits
(1,400 training, 397 test images, one seeded split) twice: with full-precision Adam on the
cross-entropy (float multiplies everywhere), and with :class:`BinaryStochastic` on a
device of ``--levels`` conductance levels. The table gives both test accuracies and, for
the binary run, how the multiply-accumulates of back-propagation became additions and
sign operations.
"""

from __future__ import annotations

import argparse

import torch
from _digits import fit_adam, split  # noqa: E402  (benchmarks/_digits.py)
from torch import nn

from spikestack.learning import BinaryStochastic, Device


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.Sigmoid(), nn.Linear(128, 10))


def batches(n: int, size: int, epoch: int) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
    return [order[i : i + size] for i in range(0, n, size)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--levels", type=int, default=128)
    parser.add_argument("--write-noise", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    x, y, x_test, y_test = split(images=False)
    model = fit_adam(mlp(), x, y, epochs=args.epochs, batch_size=args.batch_size)
    with torch.no_grad():
        full = float((model(x_test).argmax(-1) == y_test).float().mean())

    device = Device(levels=args.levels, write_noise=args.write_noise)
    learner = BinaryStochastic(mlp(), device)
    for epoch in range(args.epochs):
        for idx in batches(len(x), args.batch_size, epoch):
            learner.train_step(x[idx], y[idx])
    binary = float((learner.predict(x_test).argmax(-1) == y_test).float().mean())
    c = learner.counts
    print(f"{'training':34} {'test accuracy':>13}")
    print(f"{'full-precision Adam':34} {full:13.4f}")
    print(f"{f'binary stochastic ({args.levels} levels)':34} {binary:13.4f}")
    print(
        f"\nbinary training, {args.epochs} epochs: full precision would take "
        f"{c['dense_macs']:.4g} MACs; binary took 0 multiplies, {c['forward_adds']:.4g} "
        f"forward additions ({c['forward_adds'] / c['dense_macs']:.1%} of those MACs), "
        f"{c['backward_adds']:.4g} backward additions/subtractions and {c['sign_ops']:.4g} "
        "sign operations"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
