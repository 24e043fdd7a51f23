"""``spikestack bench sparse``: event-driven linear and convolution against dense torch.

For a linear layer 2048 -> 2048 and a 3x3 convolution (64 -> 64 channels, 16 x 16), with
B·T = 256 rows of random spikes at each input rate, in one process: the dense layer,
the event-driven kernels (forced), :class:`~spikestack.layers.event_driven.EventDriven`
in ``auto`` mode (its measured choice; the crossover it measured is printed), and, for the
linear layer, ``torch.sparse.mm`` on a CSR copy of the spikes (conversion included).
Times are the best of ``repeats``; ratios are dense time / path time (above 1: faster).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikestack.kernels.sparse import best_of
from spikestack.layers.event_driven import EventDriven

RATES = (0.01, 0.02, 0.05, 0.1, 0.2)


def _spikes(shape: tuple[int, ...], rate: float, seed: int, device: torch.device) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=generator) < rate).float().to(device)


def _crossing(rates: list[float], ratios: list[float]) -> str:
    """Where the event-driven/dense ratio falls through 1 (interpolated), in words."""
    for i in range(len(rates) - 1):
        (r0, q0), (r1, q1) = (rates[i], ratios[i]), (rates[i + 1], ratios[i + 1])
        if q0 >= 1 > q1:
            return f"event-driven is faster below {100 * (r0 + (q0 - 1) * (r1 - r0) / (q0 - q1)):.1f} %"
    if ratios and min(ratios) >= 1:
        return "event-driven is faster at every rate measured"
    return "dense is faster at every rate measured"


def bench_layer(
    name: str, layer: nn.Module, shape: tuple[int, ...], rates: tuple[float, ...], repeats: int,
    device: torch.device | None = None,
) -> None:  # fmt: skip
    device = device or torch.device("cpu")
    layer = layer.to(device)
    forced = EventDriven(layer, mode="sparse")
    auto = EventDriven(layer, mode="auto")
    csr = isinstance(layer, nn.Linear)
    head = f"{'rate':>6} {'dense ms':>9} {'event ms':>9} {'ratio':>6} {'auto ms':>8} {'ratio':>6}"
    print(f"\n{name}: input {'x'.join(map(str, shape))}, float32")
    print(head + (f" {'csr ms':>7} {'ratio':>6}" if csr else "") + "  auto took")
    ratios = []
    with torch.no_grad():
        for i, rate in enumerate(rates):
            x = _spikes(shape, rate, seed=i, device=device)
            forced(x)  # compile / warm
            auto(x)  # measures its crossover for this shape on the first call
            dense_s = best_of(lambda x=x: layer(x), repeats, device)
            event_s = best_of(lambda x=x: forced(x), repeats, device)
            before = dict(auto.calls)
            auto_s = best_of(lambda x=x: auto(x), repeats, device)
            took = (
                "event-driven" if auto.calls["event-driven"] > before["event-driven"] else "dense"
            )
            ratios.append(dense_s / event_s)
            line = (
                f"{100 * rate:5.0f}% {1e3 * dense_s:9.2f} {1e3 * event_s:9.2f} "
                f"{dense_s / event_s:6.2f} {1e3 * auto_s:8.2f} {dense_s / auto_s:6.2f}"
            )
            if csr:
                csr_s = best_of(
                    lambda x=x: torch.sparse.mm(x.to_sparse_csr(), layer.weight.t()), repeats,
                    device,
                )  # fmt: skip
                line += f" {1e3 * csr_s:7.2f} {dense_s / csr_s:6.2f}"
            print(f"{line}  {took}")
    crossover = next(iter(auto.crossovers.values())).rate
    print(
        f"crossover: {_crossing(list(rates), ratios)} "
        f"(auto measured {100 * crossover:.1f} % on its first input)"
    )


def run_sparse(
    *, rows: int = 256, rates: tuple[float, ...] = RATES, repeats: int = 5, quick: bool = False,
    device: str = "cpu",
) -> None:  # fmt: skip
    import warnings

    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    torch.manual_seed(0)
    where = torch.device(device)
    if where.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("bench sparse --device cuda: no CUDA device here")
    kernels = "Triton" if where.type == "cuda" else "numba"
    print(
        f"device: {where}, {kernels} kernels; threads: {torch.get_num_threads()} (torch); B·T = {rows} rows"
    )
    features = 512 if quick else 2048
    bench_layer(
        f"linear {features} -> {features}", nn.Linear(features, features), (rows, features),
        rates, repeats, where,
    )  # fmt: skip
    side = 8 if quick else 16
    bench_layer(
        "conv 3x3, 64 -> 64 channels", nn.Conv2d(64, 64, 3, padding=1), (rows, 64, side, side),
        rates, repeats, where,
    )  # fmt: skip
