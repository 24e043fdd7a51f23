"""Losses on per-step outputs ``[T, B, classes]``.

Every loss takes the model's per-step output (a ``[B, classes]`` output counts as
T = 1) and integer targets ``[B]``.
"""

from __future__ import annotations

from collections.abc import Callable

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


@LOSSES.register("mse")
def rate_mse() -> Loss:
    """MSE between the firing rate (output averaged over time) and the one-hot target."""

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        onehot = F.one_hot(target, out.shape[-1]).to(out.dtype)
        return F.mse_loss(out.mean(0), onehot)

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


def create_loss(name: str, **kwargs: float) -> Loss:
    return LOSSES.get(name)(**kwargs)


def list_losses() -> list[str]:
    return LOSSES.names()
