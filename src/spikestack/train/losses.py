"""Losses on per-step outputs ``[T, B, classes]``.

Every loss takes the model's per-step output (a ``[B, classes]`` output counts as
T = 1) and integer targets ``[B]``; the regression losses (``mse``, ``l1``, ``huber``)
also take float targets ``[B, outputs]``. :class:`RateSparsity` adds a penalty on the
firing rates of a model's spiking layers to any of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from spikestack.registry import Registry

Loss = Callable[[Tensor, Tensor], Tensor]
LOSSES: Registry[Callable[..., Loss]] = Registry("loss")


def as_sequence(output: Tensor) -> Tensor:
    """``[B, C] -> [1, B, C]``; ``[T, B, C]`` unchanged."""
    if output.dim() == 2:
        return output.unsqueeze(0)
    if output.dim() != 3:
        raise ValueError(
            f"expected model output [T, B, classes] or [B, classes]; got {tuple(output.shape)}"
        )
    return output


def _check_targets(output: Tensor, target: Tensor) -> None:
    if target.dim() != 1 or target.shape[0] != output.shape[1]:
        raise ValueError(
            f"targets must be [B] with B={output.shape[1]} to match the output {tuple(output.shape)}; "
            f"got {tuple(target.shape)}"
        )


@LOSSES.register("ce")
def mean_cross_entropy(*, label_smoothing: float = 0.0) -> Loss:
    """Cross-entropy of the output averaged over time: CE(mean_t O[t], y)."""

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        return F.cross_entropy(out.mean(0), target, label_smoothing=label_smoothing)

    return loss


def _regression_target(out: Tensor, target: Tensor) -> Tensor:
    """Float targets ``[B, outputs]`` as they are; class targets ``[B]`` one-hot."""
    if target.is_floating_point():
        if target.shape != out.shape[1:]:
            raise ValueError(
                f"regression targets must be [B, outputs] = {tuple(out.shape[1:])} to match "
                f"the output {tuple(out.shape)}; got {tuple(target.shape)}"
            )
        return target.to(out.dtype)
    _check_targets(out, target)
    return F.one_hot(target, out.shape[-1]).to(out.dtype)


def _regression(kind: str, delta: float = 1.0) -> Loss:
    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        value, goal = out.mean(0), _regression_target(out, target)
        if kind == "mse":
            return F.mse_loss(value, goal)
        if kind == "l1":
            return F.l1_loss(value, goal)
        return F.huber_loss(value, goal, delta=delta)

    return loss


@LOSSES.register("mse")
def rate_mse() -> Loss:
    """MSE between the output averaged over time (the firing rate, or with a ``last``/
    ``max`` decoder and an LI readout a membrane value) and the target: float targets
    ``[B, outputs]`` for regression, or the one-hot vector of class targets."""
    return _regression("mse")


@LOSSES.register("l1")
def l1() -> Loss:
    """As ``mse`` with the mean absolute error."""
    return _regression("l1")


@LOSSES.register("huber")
def huber(*, delta: float = 1.0) -> Loss:
    """As ``mse`` with the Huber loss (quadratic within ``delta``, linear beyond)."""
    return _regression("huber", delta)


@LOSSES.register("count_mse")
def count_mse(*, correct_rate: float = 1.0, incorrect_rate: float = 0.0) -> Loss:
    """MSE between each output neuron's spike count over the T steps and its target count,
    int(T · correct_rate) for the target class and int(T · incorrect_rate) for the others,
    divided by T (snnTorch's ``mse_count_loss``, same value)."""
    for name, rate in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]; got {rate!r}")

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        steps = out.shape[0]
        onehot = F.one_hot(target, out.shape[-1]).to(out.dtype)
        goal = onehot * int(steps * correct_rate) + (1 - onehot) * int(steps * incorrect_rate)
        return F.mse_loss(out.sum(0), goal) / steps

    return loss


class _FirstSpikeTime(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, spikes: Tensor) -> Tensor:
        steps = spikes.shape[0]
        fired = spikes > 0
        # the index of the first spike; T where the neuron never fired
        first = torch.where(fired.any(0), fired.to(torch.uint8).argmax(0), steps)
        ctx.save_for_backward(first)
        ctx.steps = steps
        return first.to(spikes.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (first,) = ctx.saved_tensors
        # d t / d S[t_first] = -1 (a spike there makes it earlier); a silent neuron gets it
        # at the last step, so that firing at all is rewarded
        where = first.clamp(max=ctx.steps - 1).unsqueeze(0)
        out = torch.zeros((ctx.steps, *grad.shape), dtype=grad.dtype, device=grad.device)
        return out.scatter_(0, where, -grad.unsqueeze(0))


def first_spike_times(spikes: Tensor) -> Tensor:
    """``[T, B, N]`` spikes -> ``[B, N]`` index of each neuron's first spike (T: never).

    Differentiable with the straight-through choice of snnTorch's temporal losses: the
    gradient of a first-spike time is -1 with respect to the spike at that time."""
    return _FirstSpikeTime.apply(as_sequence(spikes))


@LOSSES.register("first_spike")
def first_spike(*, tau: float = 1.0) -> Loss:
    """Time-to-first-spike cross-entropy: CE(-t_first / tau, y) over the output neurons'
    first-spike times (snnTorch's ``ce_temporal_loss``), so the target class should fire
    first; a neuron that never fires counts as firing at T."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0; got {tau!r}")

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        return F.cross_entropy(-first_spike_times(out) / tau, target)

    return loss


def van_rossum_distance(a: Tensor, b: Tensor, *, tau: float = 5.0) -> Tensor:
    """The van Rossum distance (Neural Computation 2001) between spike trains ``[T, ...]``:
    each train filtered by an exponential kernel, f[t] = exp(-1/tau) f[t-1] + s[t], then
    D = sum_t (f_a[t] - f_b[t])^2 / tau, summed over neurons and averaged over the batch
    (dimension 1)."""
    if a.shape != b.shape:
        raise ValueError(
            f"spike trains must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if tau <= 0:
        raise ValueError(f"tau must be > 0; got {tau!r}")
    decay = math.exp(-1.0 / tau)
    diff, trace, total = a - b, torch.zeros_like(a[0]), a.new_zeros(())
    for d_t in diff.unbind(0):  # the filter is linear: filter the difference once
        trace = decay * trace + d_t
        total = total + trace.square().sum()
    return total / (tau * max(a.shape[1], 1) if a.dim() > 1 else tau)


def regular_train(steps: int, rate: float, *, like: Tensor) -> Tensor:
    """``[T]`` a regular spike train firing ``rate`` of the steps (1 where floor((t+1) rate)
    > floor(t rate))."""
    t = torch.arange(steps + 1, device=like.device, dtype=like.dtype)
    counts = torch.floor(t * rate)
    return (counts[1:] > counts[:-1]).to(like.dtype)


@LOSSES.register("van_rossum")
def van_rossum(*, tau: float = 5.0, target_rate: float = 0.5) -> Loss:
    """Van Rossum distance between the output spike trains and target trains: a regular
    train firing ``target_rate`` of the steps for the target class, silence for the
    others (:func:`van_rossum_distance`)."""
    if not 0.0 < target_rate <= 1.0:
        raise ValueError(f"target_rate must be in (0, 1]; got {target_rate!r}")

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        onehot = F.one_hot(target, out.shape[-1]).to(out.dtype)
        train = regular_train(out.shape[0], target_rate, like=out)
        return van_rossum_distance(out, train.view(-1, 1, 1) * onehot, tau=tau)

    return loss


@LOSSES.register("tet")
def tet(*, lam: float = 1e-3, phi: float = 1.0) -> Loss:
    """Temporal Efficient Training (Deng et al., ICLR 2022).

    L = (1 - lam) · (1/T) Σ_t CE(O[t], y) + lam · (1/T) Σ_t MSE(O[t], phi):
    the cross-entropy is taken at every step rather than on the mean, and a small
    MSE term pulls the outputs towards the constant ``phi``.
    """

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        t_steps = out.shape[0]
        ce = F.cross_entropy(out.flatten(0, 1), target.repeat(t_steps))
        if lam == 0:
            return ce
        mse = F.mse_loss(out, torch.full_like(out, phi))
        return (1 - lam) * ce + lam * mse

    return loss


def supervised_contrastive(features: Tensor, labels: Tensor, *, temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (Khosla et al., NeurIPS 2020) over ``features [N, D]``.

    For each anchor i with at least one positive (another row with the same label):
    -1/|P(i)| Σ_{p in P(i)} log( exp(z_i·z_p/τ) / Σ_{a != i} exp(z_i·z_a/τ) ), z L2-normalised;
    the mean over such anchors.
    """
    if features.dim() != 2 or labels.shape != features.shape[:1]:
        raise ValueError(
            f"features must be [N, D] with labels [N]; got {tuple(features.shape)} and {tuple(labels.shape)}"
        )
    z = F.normalize(features.float(), dim=1)
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = (z @ z.t() / temperature).masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    counts = positive.sum(1)
    per_anchor = -log_prob.masked_fill(~positive, 0.0).sum(1) / counts.clamp_min(1)
    valid = counts > 0
    return per_anchor[valid].mean() if valid.any() else features.sum() * 0.0


@LOSSES.register("tcl")
def tcl(*, weight: float = 0.5, temperature: float = 0.1, base: str = "ce") -> Loss:
    """Temporal-domain supervised Contrastive Learning (Qiu et al., "Temporal Contrastive
    Learning for Spiking Neural Networks", 2023) as an auxiliary term.

    The output at every time step is one representation; representations of the same class
    (at any step, of any sample, including the same sample at other steps) are positives:
    L = base(O, y) + weight · SupCon({O[t, b]}, {y[b]}). We use the model's per-step output
    as the representation (no separate projection head).
    """
    base_loss = LOSSES.get(base)()

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        t_steps = out.shape[0]
        contrast = supervised_contrastive(
            out.flatten(0, 1), target.repeat(t_steps), temperature=temperature
        )
        return base_loss(out, target) + weight * contrast

    return loss


class SiameseLoss:
    """A loss over two augmented views of the batch: ``loss(out_a, out_b, target)``.

    The engine recognises ``views == 2`` and runs the model on two augmentations.
    """

    views = 2

    def __init__(self, *, weight: float, temperature: float, base: str) -> None:
        self.weight = weight
        self.temperature = temperature
        self.base = LOSSES.get(base)()

    def __call__(self, out_a: Tensor, out_b: Tensor, target: Tensor) -> Tensor:
        a, b = as_sequence(out_a), as_sequence(out_b)
        _check_targets(a, target)
        if a.shape != b.shape:
            raise ValueError(
                f"the two views' outputs differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}"
            )
        feats = torch.cat([a, b], dim=1).flatten(0, 1)
        labels = torch.cat([target, target]).repeat(a.shape[0])
        contrast = supervised_contrastive(feats, labels, temperature=self.temperature)
        return 0.5 * (self.base(a, target) + self.base(b, target)) + self.weight * contrast


@LOSSES.register("stcl")
def stcl(*, weight: float = 0.5, temperature: float = 0.1, base: str = "ce") -> SiameseLoss:
    """Siamese TCL (Qiu et al. 2023): TCL over the per-step outputs of two augmented views.

    L = (base(O_a, y) + base(O_b, y)) / 2 + weight · SupCon({O_a[t, b], O_b[t, b]}, labels),
    so representations are pulled together across time steps, across views and within a class.
    """
    return SiameseLoss(weight=weight, temperature=temperature, base=base)


class RateSparsity:
    """The rate-sparsity regulariser: ``weight`` times the sum over the model's spiking
    layers of their mean firing rate (an L1 penalty on rates, as spikes are >= 0).

    While attached, forward hooks keep each spiking layer's output; :meth:`take` returns
    the penalty of everything since the last call (with gradient) and forgets it, so
    the engine adds it to each loss, window by window under truncated BPTT too.
    """

    def __init__(self, model: torch.nn.Module, weight: float) -> None:
        from spikestack.neurons import Neuron

        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"rate penalty weight must be a finite number >= 0; got {weight!r}")
        self.weight = float(weight)
        self.layers = [
            (n, m) for n, m in model.named_modules() if isinstance(m, Neuron) and m.emits_spikes
        ]
        self._rates: dict[str, list[Tensor]] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> RateSparsity:
        for name, module in self.layers:

            def keep(module: Any, inputs: Any, output: Tensor, name: str = name) -> None:
                self._rates.setdefault(name, []).append(output.float().mean())

            self._handles.append(module.register_forward_hook(keep))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._rates.clear()

    def take(self) -> Tensor:
        """weight · Σ_layers mean rate of the forward passes since the last call."""
        means = [torch.stack(values).mean() for values in self._rates.values()]
        self._rates.clear()
        return self.weight * torch.stack(means).sum() if means else torch.zeros(())


def create_loss(name: str, **kwargs: float) -> Loss:
    return LOSSES.get(name)(**kwargs)


def list_losses() -> list[str]:
    return LOSSES.names()
