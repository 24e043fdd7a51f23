"""One SGD training step of a small spiking CNN: spikestack vs SpikingJelly vs the same net with ReLU.

Net: Conv(2,32,3,p1)-BN-LIF-MaxPool2, Conv(32,64,3,p1)-BN-LIF-MaxPool2, Linear(4096,10)
on [T=8, B=32, 2, 32, 32]; cross-entropy of the mean over T. Prints samples/s, the
ratios, and where the time of one spikestack step goes (torch.profiler, self CPU time).
"spikestack optimised" is ``spikestack.optimize(net, x)`` of the same net (what
``spikestack train --optimize`` does), timed on the same contiguous input as the others.

    python benchmarks/train_step.py [--steps 10] [--batch 32] [--T 8] [--no-profile]
                                    [--channels-last]

``--channels-last`` stores the input and every net's conv weights channels-last (all
nets alike); spikestack's neurons keep that layout without copying.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable

import torch
from torch import Tensor, nn

from spikestack.kernels.bench import median_ms
from spikestack.kernels.saved import saved_membrane
from spikestack.layers import TimeDistributed, optimize
from spikestack.neurons import LIF
from spikestack.surrogates import ATan
from spikestack.train.memory import saved_tensor_bytes


def _stateless(channels: tuple[int, int, int]) -> list[list[nn.Module]]:
    c_in, c1, c2 = channels
    return [
        [nn.Conv2d(c_in, c1, 3, padding=1), nn.BatchNorm2d(c1)],
        [nn.MaxPool2d(2), nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2)],
        [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c2 * 8 * 8, 10)],
    ]


def spikestack_net(backend: str = "auto") -> nn.Module:
    a, b, c = _stateless((2, 32, 64))
    return nn.Sequential(
        TimeDistributed(nn.Sequential(*a)),
        LIF(tau=2.0, surrogate=ATan(), backend=backend),
        TimeDistributed(nn.Sequential(*b)),
        LIF(tau=2.0, surrogate=ATan(), backend=backend),
        TimeDistributed(nn.Sequential(*c)),
    )


def relu_net() -> nn.Module:
    a, b, c = _stateless((2, 32, 64))
    return nn.Sequential(
        TimeDistributed(nn.Sequential(*a)),
        nn.ReLU(),
        TimeDistributed(nn.Sequential(*b)),
        nn.ReLU(),
        TimeDistributed(nn.Sequential(*c)),
    )


def spikingjelly_net() -> nn.Module | None:
    try:
        from spikingjelly.activation_based import layer, neuron, surrogate
    except ImportError:
        return None
    a, b, c = _stateless((2, 32, 64))

    def lif() -> nn.Module:
        return neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan(alpha=2.0))

    return nn.Sequential(
        layer.SeqToANNContainer(*a), lif(), layer.SeqToANNContainer(*b), lif(),
        layer.SeqToANNContainer(*c),
    )  # fmt: skip


def _reset_all(net: nn.Module) -> None:
    for m in net.modules():
        if m is not net and hasattr(m, "reset") and callable(m.reset):
            m.reset()


def make_step(net: nn.Module, x: Tensor, y: Tensor) -> Callable[[], float]:
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        _reset_all(net)  # SpikingJelly nodes keep state between calls; spikestack's do not
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x).mean(0), y)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def samples_per_second(
    steps: dict[str, Callable[[], float]], batch: int, repeats: int
) -> dict[str, float]:
    """Median samples/s of each step function, timed round-robin so load drifts hit all alike."""
    ms = median_ms(steps, repeats, warmup=2)
    return {name: batch / (t / 1e3) for name, t in ms.items()}


def profile(step: Callable[[], float], label: str, rows: int = 12) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print(f"\nwhere the time goes: {label} (one step, top ops by self CPU time)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per net")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--channels-last", action="store_true", help="channels-last input and conv weights"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = (torch.rand(args.T, args.batch, 2, 32, 32) < 0.2).float()
    y = torch.randint(0, 10, (args.batch,))
    if args.channels_last:  # [T, B, C, H, W] stored as [T, B, H, W, C]
        x = x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    optimised = optimize(spikestack_net("auto"), x, training=True)
    print(optimised.optimize_report)
    nets: dict[str, nn.Module | None] = {
        "spikestack optimised": optimised,
        "spikestack LIF (cpu fused)": spikestack_net("auto"),
        "spikestack LIF (torch ref)": spikestack_net("torch"),
        "SpikingJelly LIFNode": spikingjelly_net(),
        "ReLU (same net)": relu_net(),
    }
    if args.channels_last:
        nets = {k: n and n.to(memory_format=torch.channels_last) for k, n in nets.items()}

    layout = "channels-last" if args.channels_last else "contiguous"
    print(
        f"train step, input [T={args.T}, B={args.batch}, 2, 32, 32] ({layout}), "
        f"{torch.get_num_threads()} threads"
    )
    steps: dict[str, Callable[[], float]] = {}
    for name, net in nets.items():
        if net is None:
            print(f"{name:28} skipped (not installed)")
        else:
            steps[name] = make_step(net, x, y)
    # the optimised net again, its neurons keeping their membrane in bfloat16 for backward
    plain_step = make_step(copy.deepcopy(optimised), x, y)

    def bf16_step() -> float:
        with saved_membrane("bfloat16"):
            return plain_step()

    steps["optimised, bf16 membrane"] = bf16_step
    rates = samples_per_second(steps, args.batch, args.steps)
    ours = rates["spikestack LIF (cpu fused)"]
    for name, rate in rates.items():
        print(f"{name:28} {rate:8.1f} samples/s   fused / this = {ours / rate:5.2f}x")
    sj = rates.get("SpikingJelly LIFNode")
    best = rates["spikestack optimised"]
    relu = rates["ReLU (same net)"]
    if sj:
        print(
            f"vs SpikingJelly: spikestack {ours / sj:.2f}x, optimised {best / sj:.2f}x; the "
            f"ReLU twin {relu / sj:.2f}x (what a neuron costing as little as ReLU would give)"
        )
    print(f"optimised vs the ReLU twin built the plain way: {best / relu:.2f}x")
    held = {}
    for dtype in ("float32", "bfloat16"):
        with saved_membrane(dtype):
            _, held[dtype] = saved_tensor_bytes(make_step(copy.deepcopy(optimised), x, y))
    print(
        f"bfloat16 membrane: {rates['optimised, bf16 membrane'] / best:.2f}x the optimised "
        f"step's speed; memory held for backward {held['bfloat16'] / 2**20:.1f} MiB against "
        f"{held['float32'] / 2**20:.1f} MiB ({held['bfloat16'] / held['float32']:.2f}x)"
    )
    if not args.no_profile:
        for name in ("spikestack LIF (cpu fused)", "SpikingJelly LIFNode"):
            if name in steps:
                profile(steps[name], name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
