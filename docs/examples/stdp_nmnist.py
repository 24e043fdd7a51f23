"""Unsupervised features by STDP on N-MNIST samples, then a linear readout.

``python docs/examples/stdp_nmnist.py [--root DIR] [--neurons 100] [--epochs 1]``

The shared N-MNIST samples (``$SPIKESTACK_TEST_DATA/nmnist_small``: 1,000 training
recordings with labels) are read as 10 event frames each (spikestack's ``folder`` recipe,
its seeded train/test split), pooled 2x2 to 2x17x17 and binarised. A competitive layer of
``--neurons`` LIF-like neurons learns its weights by pair STDP alone: at each step only the
most driven neuron over its (adaptive) threshold fires and every membrane is reset
(lateral inhibition, winner-take-all), each spike raises that neuron's threshold a little
(homeostasis), and incoming weights are kept within [0, 1] with a fixed L1 norm. The
layer's spike counts are then the features of a logistic-regression readout trained on
the training split. The same readout on a layer with the initial random weights is the
baseline: the difference is what STDP learned.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.learning import STDP
from spikestack.train import TrainConfig
from spikestack.train.recipes import build_data


class WinnerTakeAll(nn.Module):
    """Leaky membranes; per step at most one spike (the most driven neuron over its
    threshold), then every membrane resets; a spike raises its neuron's threshold."""

    def __init__(self, n: int, tau: float = 5.0, theta_step: float = 0.05) -> None:
        super().__init__()
        self.tau, self.theta_step = tau, theta_step
        self.register_buffer("theta", torch.ones(n))

    def forward(self, current: Tensor) -> Tensor:  # [T, B, N] -> spikes
        v = torch.zeros_like(current[0])
        spikes = []
        for i_t in current:
            v = v + (i_t - v) / self.tau
            over = v - self.theta
            best = over.argmax(-1)
            fire = over.gather(-1, best[:, None]).squeeze(-1) >= 0
            s = torch.zeros_like(v)
            s[fire, best[fire]] = 1.0
            v = v * (1 - fire.float())[:, None]  # lateral inhibition: everyone resets
            if self.training:
                self.theta += self.theta_step * s.sum(0)
            spikes.append(s)
        if self.training:
            self.theta.mul_(0.999).clamp_(min=0.5)  # slow return of the thresholds
        return torch.stack(spikes)


def frames(dataset) -> tuple[Tensor, Tensor]:
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    x = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in xs])  # [N, T, 2, 34, 34]
    x = F.avg_pool2d(x.flatten(0, 1), 2).unflatten(0, x.shape[:2])
    return (x > 0).float().flatten(2), torch.as_tensor(ys)  # [N, T, 578]


def features(layer: nn.Linear, neurons: WinnerTakeAll, x: Tensor) -> Tensor:
    neurons.eval()
    with torch.no_grad():
        return torch.cat([neurons(layer(xb.transpose(0, 1))).sum(0) for xb in x.split(64)])


def readout(train_f: Tensor, train_y: Tensor, test_f: Tensor, test_y: Tensor) -> float:
    torch.manual_seed(0)
    mean, std = train_f.mean(0), train_f.std(0) + 1e-6
    head = nn.Linear(train_f.shape[1], 10)
    opt = torch.optim.Adam(head.parameters(), lr=0.05, weight_decay=1e-3)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(head((train_f - mean) / std), train_y).backward()
        opt.step()
    with torch.no_grad():
        return float((head((test_f - mean) / std).argmax(-1) == test_y).float().mean())


def main(argv: list[str] | None = None) -> dict[str, float]:
    default_root = Path(os.environ.get("SPIKESTACK_TEST_DATA", "../shared/data")) / "nmnist_small"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root)
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-samples", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        raise SystemExit(f"no N-MNIST samples at {args.root} (set SPIKESTACK_TEST_DATA or --root)")
    config = TrainConfig.from_dict(
        {"data": {"name": "folder", "root": str(args.root), "max_samples": args.max_samples}}
    )
    data = build_data(config)
    train_x, train_y = frames(data.train)
    test_x, test_y = frames(data.test)

    torch.manual_seed(0)
    layer = nn.Linear(train_x.shape[-1], args.neurons, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.0, 0.3)
    neurons = WinnerTakeAll(args.neurons)
    norm = float(layer.weight.detach().sum(1).mean())
    random_layer = nn.Linear(train_x.shape[-1], args.neurons, bias=False)
    random_layer.load_state_dict(layer.state_dict())
    random_neurons = WinnerTakeAll(args.neurons)
    before = readout(features(random_layer, random_neurons, train_x), train_y,
                     features(random_layer, random_neurons, test_x), test_y)  # fmt: skip

    stdp = STDP(layer, neurons, lr=1.0, tau_pre=3.0, tau_post=3.0, a_plus=0.02, a_minus=0.01,
                w_min=0.0, w_max=1.0, normalise=norm)  # fmt: skip
    neurons.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(order), 8):
            with torch.no_grad():
                neurons(layer(train_x[order[i : i + 8]].transpose(0, 1)))
            stdp.step()
    stdp.remove()
    after = readout(features(layer, neurons, train_x), train_y,
                    features(layer, neurons, test_x), test_y)  # fmt: skip
    print(f"{len(train_x)} training, {len(test_x)} test recordings; {args.neurons} neurons")
    print(f"readout on the random layer:       {before:.4f}")
    print(f"readout on the STDP-trained layer: {after:.4f}")
    return {"random": before, "stdp": after}


if __name__ == "__main__":
    main()
