"""Binary stochastic learning for memristor-style hardware (Li et al., "Binary stochasticity
enabled highly efficient neuromorphic deep learning achieves better-than-software
accuracy", arXiv 2304.12866).

Every elementary operation of back-propagation is made binary:

1. forward signals are binarised stochastically: a layer's input x in [0, 1] becomes a
   Bernoulli(x) sample, so W x is a sum of selected weights (additions, no multiplies);
2. activation derivatives are binarised stochastically: the sigmoid's σ' = σ(1 − σ) ≤ 1/4
   becomes a Bernoulli(4σ') sample in {0, 1};
3. back-propagated errors are binarised by sign: each layer's output error becomes
   sign(δ) in {−1, 0, +1}, so W^T sign(δ) is again additions and subtractions;
4. weights change step-wise: each weight whose accumulated gradient G = Σ_batch sign(δ) x_b
   (an integer) is not zero moves one device step against its sign (one programming
   pulse, ``update="sign"``, the default), or |G| steps (``update="pulses"``: one pulse per
   sample's ±1 term), with the device's write noise, within the device's range.

The device (:class:`Device`) has ``levels`` conductance levels over [−w_max, w_max]: one
step is 2 w_max / (levels − 1); ``write_noise`` is the relative spread of each step
(a step of size step · (1 + write_noise · N(0, 1))). Weights start on the level grid.
The output error is σ(z) − one-hot(y) per output (each output a logistic unit, so a
class's error does not depend on how many other classes there are), set to zero where
below ``error_threshold`` in size, then binarised like the others.

Networks: ``nn.Sequential`` of Linear / Conv2d layers with ``nn.Sigmoid`` between them
(MaxPool2d, AvgPool2d and Flatten allowed); the last layer's output is the logits.
:class:`BinaryStochastic` counts, per batch, the dense multiply-accumulates the same
steps would take in full precision and what they became: additions in the forward and
backward passes and sign operations in the updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.validation import check_int, check_positive

__all__ = ["BinaryStochastic", "Device"]


@dataclass(frozen=True)
class Device:
    """A memristor-like synapse: ``levels`` conductances over [−w_max, w_max], each
    programming step with relative write noise ``write_noise``."""

    levels: int = 128
    w_max: float = 1.0
    write_noise: float = 0.0

    def __post_init__(self) -> None:
        check_int("levels", self.levels, minimum=2)
        check_positive("w_max", self.w_max)
        check_positive("write_noise", self.write_noise, allow_zero=True)

    @property
    def step(self) -> float:
        return 2 * self.w_max / (self.levels - 1)

    def snap(self, w: Tensor) -> Tensor:
        """The nearest level of each weight."""
        k = torch.round((w.clamp(-self.w_max, self.w_max) + self.w_max) / self.step)
        return k * self.step - self.w_max


class _Bernoulli(torch.autograd.Function):
    """Forward: a Bernoulli sample of x in [0, 1]; backward: the error passes unchanged."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, generator: torch.Generator | None) -> Tensor:
        p = x.clamp(0.0, 1.0)
        return (torch.rand(p.shape, generator=generator, dtype=p.dtype) < p).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


class _SignedError(torch.autograd.Function):
    """Forward: identity; backward: the error binarised to its sign."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return torch.sign(grad)


class _StochasticSigmoid(torch.autograd.Function):
    """Forward: σ(x); backward: the error times a Bernoulli(4 σ(1 − σ)) sample."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, generator: torch.Generator | None) -> Tensor:
        y = torch.sigmoid(x)
        ctx.save_for_backward(y)
        ctx.generator = generator
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (y,) = ctx.saved_tensors
        p = 4 * y * (1 - y)
        keep = (torch.rand(p.shape, generator=ctx.generator, dtype=p.dtype) < p).to(grad.dtype)
        return grad * keep, None


_SYNAPSES = (nn.Linear, nn.Conv2d)
_PASSIVE = (nn.Flatten, nn.MaxPool2d, nn.AvgPool2d, nn.Identity, nn.Dropout)


class BinaryStochastic:
    """Binary stochastic training of ``model`` on ``device`` (see the module docstring).

    ``train_step(x, y)`` runs one batch (inputs in [0, 1]) and updates the weights in
    place; ``predict(x, samples=8)`` averages the logits of ``samples`` stochastic passes.
    ``counts``, over the training batches so far: ``dense_macs``, the multiply-accumulates
    full-precision back-propagation takes for them (forward, error propagation below the
    first layer, weight gradients); ``forward_adds``, the additions of the binary forward
    (active inputs × fan-out); ``backward_adds``, the additions and subtractions that
    propagate the signed errors (at most the layer's MACs, counted so); ``sign_ops``, the
    weight-gradient terms sign(δ)·x_b, each a sign operation instead of a multiply.
    """

    def __init__(
        self,
        model: nn.Sequential,
        device: Device | None = None,
        *,
        error_threshold: float = 0.2,
        update: str = "sign",
        seed: int = 0,
    ) -> None:
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"BinaryStochastic trains an nn.Sequential; got {type(model).__name__}")
        for i, m in enumerate(model):
            if not isinstance(m, (*_SYNAPSES, nn.Sigmoid, *_PASSIVE)):
                raise ValueError(
                    f"layer {i} ({type(m).__name__}): binary stochastic learning takes Linear, "
                    "Conv2d, Sigmoid, pooling and Flatten layers"
                )
        if not any(isinstance(m, _SYNAPSES) for m in model):
            raise ValueError("the model has no Linear or Conv2d layer to train")
        if update not in ("pulses", "sign"):
            raise ValueError(f"update must be 'pulses' or 'sign'; got {update!r}")
        self.model = model
        self.device = device or Device()
        self.error_threshold = check_positive("error_threshold", error_threshold, allow_zero=True)
        self.update = update
        self.generator = torch.Generator().manual_seed(seed)
        self.counts = {"dense_macs": 0, "forward_adds": 0, "backward_adds": 0, "sign_ops": 0}
        with torch.no_grad():
            for m in self.synapses:
                m.weight.copy_(self.device.snap(m.weight))
                if m.bias is not None:
                    m.bias.copy_(self.device.snap(m.bias))

    @property
    def synapses(self) -> list[nn.Module]:
        return [m for m in self.model if isinstance(m, _SYNAPSES)]

    def _forward(self, x: Tensor, count: bool) -> Tensor:
        first = True
        for m in self.model:
            if isinstance(m, _SYNAPSES):
                x = _Bernoulli.apply(x, self.generator)
                if count:
                    fan_out = m.out_features if isinstance(m, nn.Linear) else (
                        m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                    )  # fmt: skip
                    self.counts["forward_adds"] += int((x != 0).sum()) * fan_out
                y = m(x)
                if count:
                    self.counts["dense_macs"] += _macs(m, y) * (2 if first else 3)
                    self.counts["backward_adds"] += 0 if first else _macs(m, y)
                    self.counts["sign_ops"] += _macs(m, y)
                x = _SignedError.apply(y)
                first = False
            elif isinstance(m, nn.Sigmoid):
                x = _StochasticSigmoid.apply(x, self.generator)
            else:
                x = m(x)
        return x

    def train_step(self, x: Tensor, y: Tensor) -> float:
        """One batch: binary stochastic forward and backward, then one step per weight."""
        self.model.train()
        for m in self.synapses:
            m.zero_grad(set_to_none=True)
        logits = self._forward(x, count=True)
        target = F.one_hot(y, logits.shape[-1]).to(logits)
        error = torch.sigmoid(logits.detach()) - target  # each output on its own
        error = error * (error.abs() > self.error_threshold)  # small errors send no pulse
        logits.backward(error)  # the output error; every layer's is then binarised by sign
        self._update()
        return float(F.binary_cross_entropy_with_logits(logits.detach(), target))

    @torch.no_grad()
    def _update(self) -> None:
        device = self.device
        for m in self.synapses:
            for p in (m.weight, m.bias):
                if p is None or p.grad is None:
                    continue
                # G = Σ_batch sign(δ) x_b is an integer: that many pulses ("pulses"), or
                # one pulse against its sign ("sign", the Manhattan rule)
                pulses = -p.grad if self.update == "pulses" else -torch.sign(p.grad)
                change = pulses * device.step
                if device.write_noise:  # independent noise per pulse
                    noise = torch.randn(p.shape, generator=self.generator, dtype=p.dtype)
                    change += device.step * device.write_noise * pulses.abs().sqrt() * noise
                p.add_(change).clamp_(-device.w_max, device.w_max)

    @torch.no_grad()
    def predict(self, x: Tensor, *, samples: int = 8) -> Tensor:
        """The logits averaged over ``samples`` stochastic forward passes."""
        check_int("samples", samples, minimum=1)
        self.model.eval()
        return torch.stack([self._forward(x, count=False) for _ in range(samples)]).mean(0)


def _macs(layer: nn.Module, out: Tensor) -> int:
    """Multiply-accumulates of one full-precision pass of ``layer`` giving ``out``."""
    if isinstance(layer, nn.Linear):
        return out.numel() * layer.in_features
    return out.numel() * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
