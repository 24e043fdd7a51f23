"""Spike-timing-dependent plasticity for spikestack layers: pair-based and triplet STDP
with traces, and reward-modulated STDP (R-STDP) through an eligibility trace.

A learner watches one synaptic layer (Linear, Conv1d or Conv2d, bare or in
``TimeDistributed``) and the neuron after it: a forward hook records the layer's input
spikes s_pre[t] and the neuron's output spikes s_post[t] over ``[T, B, ...]``; ``step()``
turns what was recorded into a weight change and applies it (no gradients involved).

Pair rule (traces λ = exp(−1/τ) per step, the step's own spike included):

    x[t] = λ+ x[t−1] + s_pre[t]        y[t] = λ− y[t−1] + s_post[t]
    Δw = η ( A+ Σ_t s_post[t] ⊗ x[t]  −  A− Σ_t y[t] ⊗ s_pre[t] )

so a pre spike d steps before a post spike adds η A+ λ+^d, one d steps after subtracts
η A− λ−^d (simultaneous spikes: both terms). Triplet rule (Pfister & Gerstner, J.
Neurosci. 2006, minimal all-to-all form), with slow traces r2 (pre, τx) and o2 (post, τy):

    at a post spike:  Δw += η r1[t] (A2+ + A3+ o2[t−1]')     at a pre spike:
    Δw −= η o1[t] (A2− + A3− r2[t−1]')

where o2[t−1]' and r2[t−1]' are the slow traces before the step's own spike (decayed to t).
Summed over the batch. For convolutions each output position pairs with its input patch.

Bounds: ``w_min``/``w_max`` clamp (hard) or scale potentiation by (w_max − w) and
depression by (w − w_min) (``soft_bounds=True``); ``normalise`` rescales each output
unit's incoming weights to that L1 norm after every step (Diehl & Cook's normalisation).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.layers import TimeDistributed
from spikestack.validation import check_positive

__all__ = ["RSTDP", "STDP", "traces"]


def traces(spikes: Tensor, tau: float) -> Tensor:
    """z[t] = exp(−1/τ) z[t−1] + s[t] over the first (time) axis, from z = 0."""
    decay = math.exp(-1.0 / tau)
    out, z = [], torch.zeros_like(spikes[0])
    for s in spikes:
        z = decay * z + s
        out.append(z)
    return torch.stack(out)


def _delayed(trace: Tensor, tau: float) -> Tensor:
    """The trace before each step's own spike: λ z[t−1] (0 at t = 0)."""
    decay = math.exp(-1.0 / tau)
    return decay * torch.cat([torch.zeros_like(trace[:1]), trace[:-1]])


class STDP:
    """Pair-based (``rule="pair"``) or triplet STDP on ``synapse`` followed by ``neuron``.

    Parameters follow the module docstring; amplitudes are in weight units per pairing,
    scaled by ``lr``.
    """

    def __init__(
        self,
        synapse: nn.Module,
        neuron: nn.Module,
        *,
        lr: float = 1.0,
        rule: str = "pair",
        tau_pre: float = 20.0,
        tau_post: float = 20.0,
        a_plus: float = 0.01,
        a_minus: float = 0.012,
        tau_x: float = 100.0,
        tau_y: float = 100.0,
        a3_plus: float = 0.0,
        a3_minus: float = 0.0,
        w_min: float | None = None,
        w_max: float | None = None,
        soft_bounds: bool = False,
        normalise: float | None = None,
    ) -> None:
        layer = synapse.module if isinstance(synapse, TimeDistributed) else synapse
        if type(layer) not in (nn.Linear, nn.Conv1d, nn.Conv2d):
            raise TypeError(
                f"STDP learns Linear, Conv1d or Conv2d weights; got {type(layer).__name__}"
            )
        if rule not in ("pair", "triplet"):
            raise ValueError(f"rule must be 'pair' or 'triplet'; got {rule!r}")
        for name, value in (("tau_pre", tau_pre), ("tau_post", tau_post), ("tau_x", tau_x),
                            ("tau_y", tau_y), ("lr", lr)):  # fmt: skip
            check_positive(name, value)
        for name, value in (("a_plus", a_plus), ("a_minus", a_minus), ("a3_plus", a3_plus),
                            ("a3_minus", a3_minus)):  # fmt: skip
            check_positive(name, value, allow_zero=True)
        if soft_bounds and (w_min is None or w_max is None):
            raise ValueError("soft_bounds needs both w_min and w_max")
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"w_min ({w_min}) must be below w_max ({w_max})")
        if normalise is not None:
            check_positive("normalise", normalise)
        self.layer, self.neuron = layer, neuron
        self.lr, self.rule = float(lr), rule
        self.tau_pre, self.tau_post, self.tau_x, self.tau_y = tau_pre, tau_post, tau_x, tau_y
        self.a_plus, self.a_minus = float(a_plus), float(a_minus)
        self.a3_plus, self.a3_minus = float(a3_plus), float(a3_minus)
        self.w_min, self.w_max, self.soft_bounds = w_min, w_max, bool(soft_bounds)
        self.normalise = normalise
        self._pre: list[Tensor] = []
        self._post: list[Tensor] = []
        self._hooks = [
            synapse.register_forward_hook(self._record_pre),
            neuron.register_forward_hook(self._record_post),
        ]

    # -- recording ------------------------------------------------------------------
    def _record_pre(self, module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        x = args[0].detach()
        step_dims = {nn.Linear: 2, nn.Conv1d: 3, nn.Conv2d: 4}[type(self.layer)]
        self._pre.append(x.unsqueeze(0) if x.dim() == step_dims else x)  # one step: add T

    def _record_post(self, module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        self._post.append(out.detach())

    def reset(self) -> None:
        """Forget what was recorded since the last step."""
        self._pre.clear()
        self._post.clear()

    def remove(self) -> None:
        """Stop watching the layer and the neuron."""
        for hook in self._hooks:
            hook.remove()
        self.reset()

    # -- the rule ---------------------------------------------------------------------
    def _sequences(self) -> tuple[Tensor, Tensor]:
        if not self._pre or len(self._pre) != len(self._post):
            raise RuntimeError(
                "STDP has no complete forward pass recorded: run the model (the layer and "
                "its neuron) before step()"
            )
        return torch.cat(self._pre), torch.cat(self._post)

    def _correlate(self, post: Tensor, pre: Tensor, per_sample: bool) -> Tensor:
        """Σ over time (and positions) of post ⊗ pre, shaped like the weight; summed over
        the batch too, or ``[B, *weight]`` with ``per_sample``."""
        layer = self.layer
        out = "boi" if per_sample else "oi"
        if isinstance(layer, nn.Linear):
            return torch.einsum(f"tbo,tbi->{out}", post, pre)
        steps, batch = pre.shape[:2]
        if isinstance(layer, nn.Conv1d):
            pre, post = pre.unsqueeze(-1), post.unsqueeze(-1)
            kernel = (layer.kernel_size[0], 1)
            pad, stride, dil = (layer.padding[0], 0), (layer.stride[0], 1), (layer.dilation[0], 1)
        else:
            kernel, pad, stride, dil = (
                layer.kernel_size,
                layer.padding,
                layer.stride,
                layer.dilation,
            )
        if layer.groups != 1 or isinstance(pad, str):
            raise ValueError("STDP on convolutions needs groups=1 and numeric padding")
        patches = F.unfold(pre.flatten(0, 1), kernel, dilation=dil, padding=pad, stride=stride)
        patches = patches.unflatten(0, (steps, batch))  # [T, B, Cin k, L]
        corr = torch.einsum(f"tbol,tbil->{out}", post.flatten(3), patches)
        return corr.reshape(*corr.shape[:-2], *layer.weight.shape)

    def delta(self, *, time_weights: Tensor | None = None, per_sample: bool = False) -> Tensor:
        """The weight change of what was recorded (not applied): the sum over steps of
        each step's pairings, each step weighted by ``time_weights[t]`` if given; summed
        over the batch, or one change per sample (``[B, *weight]``) with ``per_sample``."""
        pre, post = self._sequences()
        pre, post = pre.to(self.layer.weight.dtype), post.to(self.layer.weight.dtype)
        if pre.dim() > 3 and isinstance(self.layer, nn.Linear):
            pre, post = pre.flatten(1, -2), post.flatten(1, -2)
        x, y = traces(pre, self.tau_pre), traces(post, self.tau_post)
        if self.rule == "pair":
            gain_post = self.a_plus * post
            gain_pre = self.a_minus * pre
        else:
            o2 = _delayed(traces(post, self.tau_y), self.tau_y)
            r2 = _delayed(traces(pre, self.tau_x), self.tau_x)
            gain_post = post * (self.a_plus + self.a3_plus * o2)
            gain_pre = pre * (self.a_minus + self.a3_minus * r2)
        if time_weights is not None:
            shape = (-1,) + (1,) * (pre.dim() - 1)
            gain_post = gain_post * time_weights.reshape(shape)
            gain_pre = gain_pre * time_weights.reshape(shape)
        potentiation = self._correlate(gain_post, x, per_sample)
        depression = self._correlate(y, gain_pre, per_sample)
        w = self.layer.weight.detach()
        if self.soft_bounds:
            potentiation = potentiation * (self.w_max - w)
            depression = depression * (w - self.w_min)
        return self.lr * (potentiation - depression)

    @torch.no_grad()
    def step(self) -> Tensor:
        """Apply the change of what was recorded, then bound, normalise and forget it;
        returns the change."""
        change = self.delta()
        self._apply(change)
        self.reset()
        return change

    def _apply(self, change: Tensor) -> None:
        w = self.layer.weight
        w.add_(change)
        if self.w_min is not None or self.w_max is not None:
            w.clamp_(min=self.w_min, max=self.w_max)
        if self.normalise is not None:
            norms = w.abs().flatten(1).sum(1).clamp(min=1e-12)
            w.mul_((self.normalise / norms).reshape(-1, *([1] * (w.dim() - 1))))


class RSTDP(STDP):
    """Reward-modulated STDP: each sample's STDP change accumulates in an eligibility trace
    e (decaying with ``tau_e`` steps over the sequence: e = Σ_t exp(−(T−1−t)/τe) Δ[t]),
    and ``step(reward)`` applies Σ_b reward_b · e_b (``reward`` a number or one per sample).
    """

    def __init__(self, synapse: nn.Module, neuron: nn.Module, *, tau_e: float = 25.0,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(synapse, neuron, **kwargs)
        self.tau_e = check_positive("tau_e", tau_e)

    def eligibility(self) -> Tensor:
        """Per sample, the eligibility at the end of the recorded sequence: [B, *weight]."""
        pre, _ = self._sequences()
        steps = pre.shape[0]
        ages = steps - 1 - torch.arange(steps, dtype=self.layer.weight.dtype)
        return self.delta(time_weights=torch.exp(-ages / self.tau_e), per_sample=True)

    @torch.no_grad()
    def step(self, reward: float | Tensor = 1.0) -> Tensor:  # type: ignore[override]
        e = self.eligibility()
        r = torch.as_tensor(reward, dtype=e.dtype)
        if r.dim() == 0:
            r = r.expand(e.shape[0])
        if r.shape != (e.shape[0],):
            raise ValueError(
                f"reward must be a number or one value per sample ({e.shape[0]}); got shape "
                f"{tuple(r.shape)}"
            )
        change = torch.einsum("b,b...->...", r, e)
        self._apply(change)
        self.reset()
        return change
