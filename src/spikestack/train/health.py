"""Training health: catch a network that silently stops learning.

During each training epoch :class:`TrainingHealth` watches, without a device sync per
batch, every spiking layer's firing rate and the largest input current it receives,
every parameter's gradient norm, and the loss. At the end of the epoch it reports, once
per layer and kind of problem:

- ``silent``: a spiking layer fired no spike in the whole epoch;
- ``saturated``: it fired at (nearly) every step, rate >= ``saturated_rate``;
- ``exploding input``/``vanishing input``: the largest |input current| reaching the
  layer is above ``exploding_input`` or not finite, or below ``vanishing_input``
  (the membrane is driven by next to nothing);
- ``exploding gradient``/``vanishing gradient``: a parameter's gradient norm went above
  ``exploding_gradient`` or was not finite, or stayed below ``vanishing_gradient`` (zero);
- ``non-finite loss``: a batch's loss was NaN or infinite; its update is skipped.

Each report is one line naming the layer or parameter and the measured value; the
engine logs it, stores it in ``metrics.jsonl`` (``health``) and the end-of-run summary.
With ``strict`` the first report raises :class:`TrainingHealthError` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spikestack.neurons import Neuron

__all__ = ["HealthLimits", "TrainingHealth", "TrainingHealthError"]


class TrainingHealthError(RuntimeError):
    """A training-health problem under ``strict`` (``spikestack train --strict-health``)."""


@dataclass(frozen=True)
class HealthLimits:
    saturated_rate: float = 0.95
    exploding_input: float = 1e4
    vanishing_input: float = 1e-6
    exploding_gradient: float = 1e3
    vanishing_gradient: float = 1e-12


class TrainingHealth:
    """Watch ``model`` during training epochs (see the module docstring)."""

    def __init__(
        self, model: nn.Module, *, strict: bool = False, limits: HealthLimits | None = None
    ) -> None:
        self.model = model
        self.strict = bool(strict)
        self.limits = limits or HealthLimits()
        self.reported: set[tuple[str, str]] = set()
        self.problems: list[str] = []  # every report of the run, in order
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._input_max: dict[str, Tensor] = {}
        self._grad_max: Tensor | None = None
        self._grad_finite: Tensor | None = None
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    # -- recording -----------------------------------------------------------------
    def _hook(self, name: str):
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            x = inputs[0] if inputs else None
            if not isinstance(x, Tensor) or not x.numel():
                return
            # NaN propagates through amax, so a non-finite input shows in the maximum
            peak = x.detach().abs().amax().float()
            previous = self._input_max.get(name)
            self._input_max[name] = peak if previous is None else torch.maximum(previous, peak)

        return record

    def __enter__(self) -> TrainingHealth:
        self._input_max.clear()
        self._grad_max = self._grad_finite = None
        for name, module in self.model.named_modules():
            if isinstance(module, Neuron):
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def after_backward(self) -> None:
        """Record the gradient norms of this batch (call between backward and step)."""
        grads = [p.grad for _, p in self._params]
        if not grads or any(g is None for g in grads):
            grads = [
                torch.zeros((), device=p.device) if p.grad is None else p.grad
                for _, p in self._params
            ]
        if not grads:
            return
        norms = torch.stack([torch.linalg.vector_norm(g.detach().float()) for g in grads])
        finite = torch.isfinite(norms)
        norms = torch.where(finite, norms, torch.zeros_like(norms))
        if self._grad_max is None:
            self._grad_max, self._grad_finite = norms, finite
        else:
            self._grad_max = torch.maximum(self._grad_max, norms)
            self._grad_finite = self._grad_finite & finite  # type: ignore[operator]

    # -- reporting -------------------------------------------------------------------
    def report(self, kind: str, where: str, message: str) -> str | None:
        """Record a problem once per (kind, where); raise under ``strict``."""
        if (kind, where) in self.reported:
            return None
        self.reported.add((kind, where))
        line = f"{kind}: {message}"
        self.problems.append(line)
        if self.strict:
            raise TrainingHealthError(f"training health ({kind}): {message} (--strict-health)")
        return line

    def nonfinite_loss(self, loss: float, epoch: int) -> str | None:
        return self.report(
            "non-finite loss", "loss",
            f"the loss became {loss} in epoch {epoch}; that batch's update was skipped "
            "(lower the learning rate, clip gradients with --grad-clip, or use float32)",
        )  # fmt: skip

    def end_epoch(self, rates: dict[str, float], epoch: int) -> list[str]:
        """This epoch's new problems, from the spiking layers' ``rates`` and what was recorded."""
        lim, found = self.limits, []
        for name, rate in rates.items():
            if rate == 0.0:
                found.append(
                    self.report("silent", name, f"layer {name} fired no spike in epoch {epoch}")
                )
            elif rate >= lim.saturated_rate:
                found.append(self.report(
                    "saturated", name,
                    f"layer {name} fired at {rate:.3f} of its steps in epoch {epoch} "
                    f"(>= {lim.saturated_rate})",
                ))  # fmt: skip
        for name, peak in self._input_max.items():
            value = float(peak)
            if not math.isfinite(value) or value > lim.exploding_input:
                found.append(self.report(
                    "exploding input", name,
                    f"the input current of layer {name} reached |x| = {value:.3g} in epoch {epoch}",
                ))  # fmt: skip
            elif value < lim.vanishing_input:
                found.append(self.report(
                    "vanishing input", name,
                    f"the input current of layer {name} stayed below {lim.vanishing_input:g} "
                    f"(max |x| = {value:.3g}) in epoch {epoch}",
                ))  # fmt: skip
        if self._grad_max is not None:
            norms = self._grad_max.tolist()
            finite = self._grad_finite.tolist()  # type: ignore[union-attr]
            for (name, _), norm, ok in zip(self._params, norms, finite, strict=True):
                if not ok or norm > lim.exploding_gradient:
                    shown = "not finite" if not ok else f"{norm:.3g}"
                    found.append(self.report(
                        "exploding gradient", name,
                        f"the gradient norm of {name} was {shown} in epoch {epoch}",
                    ))  # fmt: skip
                elif norm < lim.vanishing_gradient:
                    found.append(self.report(
                        "vanishing gradient", name,
                        f"{name} received no gradient (norm {norm:.3g}) in epoch {epoch}",
                    ))  # fmt: skip
        self._input_max.clear()
        self._grad_max = self._grad_finite = None
        return [line for line in found if line is not None]
