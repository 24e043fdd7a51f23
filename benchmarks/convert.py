"""ANN -> SNN conversion on digits: spikestack's ann_to_snn and SpikingJelly's converter on
the same ANN, accuracy and agreement with the ANN at several T.
``python benchmarks/convert.py [--epochs 10]``.

A small CNN (conv-BN-ReLU-avgpool x2, linear-ReLU, linear) is trained on scikit-learn's
digits (1,400 training, 397 test images, one seeded split) and converted with the max
and 99.9th-percentile thresholds of 256 training images. SpikingJelly's side (its
``RateCodingRecipe`` with ``mode="Max"`` / ``"99.9%"``, run step by step) is skipped when
it is not installed. "agree" is the share of test images where the SNN predicts what the
ANN predicts.
"""

from __future__ import annotations

import argparse

import torch
from _digits import fit_adam, split  # noqa: E402  (benchmarks/_digits.py)
from torch import nn

from spikestack.convert import ann_to_snn


def cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def spikingjelly_predictions(ann, calibration, x, steps, mode):
    try:
        from spikingjelly.activation_based import functional
        from spikingjelly.activation_based.ann2snn import Converter
        from spikingjelly.activation_based.ann2snn.recipes.rate_coding import RateCodingRecipe
    except ImportError:
        return None
    snn = Converter(RateCodingRecipe(dataloader=[(calibration, None)], mode=mode)).convert(ann)
    snn.eval()
    results = {}
    with torch.no_grad():
        functional.reset_net(snn)
        total = torch.zeros(len(x), 10)
        for t in range(1, max(steps) + 1):
            total += snn(x)
            if t in steps:
                results[t] = (total / t).argmax(-1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    x, y, x_test, y_test = split(images=True)
    ann = fit_adam(cnn(), x, y, epochs=args.epochs)
    with torch.no_grad():
        ann_pred = ann(x_test).argmax(-1)
    print(f"ANN test accuracy {float((ann_pred == y_test).float().mean()):.4f}")
    steps = (8, 16, 32, 64)
    calibration = x[:256]
    print(f"{'converter':26} {'T':>3} {'accuracy':>8} {'agree':>6}")
    for method, sj_mode in (("max", "Max"), ("percentile", "99.9%")):
        for T in steps:
            with torch.no_grad():
                pred = ann_to_snn(ann, [calibration], method=method, T=T)(x_test).mean(0).argmax(-1)
            acc, agree = (pred == y_test).float().mean(), (pred == ann_pred).float().mean()
            print(f"{'spikestack ' + method:26} {T:3} {float(acc):8.4f} {float(agree):6.4f}")
        theirs = spikingjelly_predictions(ann, calibration, x_test, steps, sj_mode)
        if theirs is None:
            print("SpikingJelly is not installed: its rows are skipped")
            continue
        for T, pred in theirs.items():
            acc, agree = (pred == y_test).float().mean(), (pred == ann_pred).float().mean()
            print(f"{'SpikingJelly ' + sj_mode:26} {T:3} {float(acc):8.4f} {float(agree):6.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
