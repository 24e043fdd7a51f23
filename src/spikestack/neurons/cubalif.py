"""CUBALIF, RLIF and RCUBALIF: the LIF family with a synaptic current, a recurrent
connection, or both; math in :mod:`spikestack.functional.membrane`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikestack.functional.membrane import klif, membrane
from spikestack.neurons.base import SpikingNeuron
from spikestack.neurons.declared import cubalif_declaration
from spikestack.neurons.define import declared_backend, try_declared
from spikestack.surrogates import Surrogate
from spikestack.validation import check_int, check_positive, check_tau

__all__ = ["CUBALIF", "KLIF", "RCUBALIF", "RLIF", "OneToOne", "recurrent_connection"]


class _MembraneNeuron(SpikingNeuron):
    """Shared body of the neurons run by :func:`~spikestack.functional.membrane.membrane`
    (CUBALIF also runs kernels generated from its declaration; RLIF, RCUBALIF and KLIF the
    torch loop only)."""

    options = SpikingNeuron.options | {"tau", "decay_input", "reset_delay"}
    tau_syn: float | None = None  # the current's time constant, where the neuron has one

    def __init__(
        self,
        tau: float,
        *,
        decay_input: bool,
        reset_delay: bool,
        v_threshold: float,
        v_reset: float | None,
        detach_reset: bool,
        surrogate: Surrogate | None,
        stateful: bool,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset,
            surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        self.tau = check_tau(tau)
        self.decay_input = bool(decay_input)
        self.reset_delay = bool(reset_delay)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, ...]:
        rest = [torch.full_like(x_t, self.v_rest)]
        return tuple(rest + [torch.zeros_like(x_t) for _ in self.state_names[1:]])

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, tuple[Tensor, ...]]:  # type: ignore[override]
        names = self.state_names
        given = dict(zip(names, state, strict=True)) if state is not None else {}
        out, (v, i, s) = membrane(
            x, tau=self.tau, tau_syn=self.tau_syn, decay_input=self.decay_input,
            v_threshold=self.v_threshold, v_reset=self.v_reset,
            detach_reset=self.detach_reset, reset_delay=self.reset_delay,
            recurrent=self._modules.get("recurrent"), surrogate=self.surrogate,
            state=(given.get("v"), given.get("i"), given.get("s")) if given else None,
        )  # fmt: skip
        found = {"v": v, "i": i, "s": s}
        return out, tuple(found[n] for n in names)  # type: ignore[misc]

    def _extra_parts(self) -> list[str]:
        parts = [f"tau={self.tau}"]
        if self.tau_syn is not None:
            parts.append(f"tau_syn={self.tau_syn}")
        if self.reset_delay:
            parts.append("reset_delay=True")
        return parts + super()._extra_parts()


class CUBALIF(_MembraneNeuron):
    """Current-based LIF: a synaptic current I[t] = α I[t-1] + X[t] (α = 1 − 1/tau_syn)
    drives a LIF membrane (β = 1 − 1/tau; without input decay by default, as snnTorch's
    ``Synaptic``; ``decay_input=True`` is Norse's ``LIFCell`` form). The state is
    ``(v, i)``. ``reset_delay=True`` is snnTorch's reset convention (see
    :mod:`spikestack.functional.membrane`). ``backend`` ("auto", "torch", "cpu", "triton")
    picks the kernels generated from its declaration (:mod:`spikestack.neurons.declared`)
    or the torch loop; ``reset_delay=True`` runs the torch loop."""

    state_names = ("v", "i")
    options = _MembraneNeuron.options | {"tau_syn", "backend"}

    def __init__(
        self,
        tau: float = 2.0,
        tau_syn: float = 2.0,
        *,
        decay_input: bool = False,
        reset_delay: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau, decay_input=decay_input, reset_delay=reset_delay, v_threshold=v_threshold,
            v_reset=v_reset, detach_reset=detach_reset, surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        self.tau_syn = check_tau(tau_syn, name="tau_syn")
        self.backend = declared_backend(
            backend, "CUBALIF(reset_delay=True)" if reset_delay else None
        )

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, tuple[Tensor, ...]]:  # type: ignore[override]
        if not self.reset_delay:
            decl, values = cubalif_declaration(self)
            fused = try_declared(
                decl, self.backend, x, state, (self.v_rest, 0.0), values, self.surrogate,
                self.detach_reset, "CUBALIF",
            )  # fmt: skip
            if fused is not None:
                return fused
        return super()._run(x, state)


class OneToOne(nn.Module):
    """Each neuron's own last spike, scaled: ``S * weight`` (a scalar, or one weight per
    neuron broadcast over the batch)."""

    def __init__(self, weight: float | Tensor = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.get_default_dtype()).clone())

    def forward(self, s: Tensor) -> Tensor:
        return s * self.weight


def recurrent_connection(
    connection: str, features: int | None, kernel_size: int, weight: float | Tensor
) -> nn.Module:
    """The recurrent module of :class:`RLIF`/:class:`RCUBALIF` (``S[t-1] -> drive``):
    ``"one_to_one"`` (:class:`OneToOne` with ``weight``), ``"linear"`` (``nn.Linear(features,
    features)`` over the last dimension) or ``"conv"`` (``nn.Conv2d(features, features,
    kernel_size, padding=kernel_size // 2)`` over ``[B, C, H, W]``)."""
    if connection == "one_to_one":
        return OneToOne(weight)
    if connection not in ("linear", "conv"):
        raise ValueError(f"connection must be 'one_to_one', 'linear' or 'conv'; got {connection!r}")
    if features is None:
        raise ValueError(
            f"connection={connection!r} needs features (the size of the last dimension for "
            "'linear', the channels for 'conv')"
        )
    check_int("features", features)
    if connection == "linear":
        return nn.Linear(features, features)
    check_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (same-size output); got {kernel_size}")
    return nn.Conv2d(features, features, kernel_size, padding=kernel_size // 2)


class RLIF(_MembraneNeuron):
    """Recurrent LIF: the membrane of :class:`~spikestack.neurons.LIF` (without input
    decay by default) driven by X[t] + R(S[t-1]), R a learnable connection from the
    layer's own spikes of the step before (snnTorch's ``RLeaky``): one-to-one (a weight
    per neuron or one shared, the default), all-to-all linear over the last dimension, or
    convolutional; or any module mapping ``[B, ...]`` spikes to the same shape
    (``recurrent=``). The state is ``(v, s)``, ``s`` the last spikes.
    ``learn_recurrent=False`` freezes R. ``reset_delay=True`` is snnTorch's convention.
    """

    state_names = ("v", "s")
    options = _MembraneNeuron.options | {
        "connection", "features", "kernel_size", "weight", "recurrent", "learn_recurrent",
    }  # fmt: skip

    def __init__(
        self,
        tau: float = 2.0,
        *,
        connection: str = "one_to_one",
        features: int | None = None,
        kernel_size: int = 3,
        weight: float | Tensor = 1.0,
        recurrent: nn.Module | None = None,
        learn_recurrent: bool = True,
        decay_input: bool = False,
        reset_delay: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(
            tau, decay_input=decay_input, reset_delay=reset_delay, v_threshold=v_threshold,
            v_reset=v_reset, detach_reset=detach_reset, surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        if recurrent is not None and not isinstance(recurrent, nn.Module):
            raise TypeError(f"recurrent must be an nn.Module; got {type(recurrent).__name__}")
        self.connection = "custom" if recurrent is not None else connection
        self.recurrent = recurrent or recurrent_connection(
            connection, features, kernel_size, weight
        )
        if not learn_recurrent:
            self.recurrent.requires_grad_(False)

    def _extra_parts(self) -> list[str]:
        return [f"connection={self.connection!r}", *super()._extra_parts()]


class RCUBALIF(RLIF):
    """Recurrent current-based LIF: :class:`CUBALIF` whose synaptic current also
    integrates the recurrent connection of :class:`RLIF`, I[t] = α I[t-1] + X[t] + R(S[t-1])
    (snnTorch's ``RSynaptic``). The state is ``(v, i, s)``."""

    state_names = ("v", "i", "s")
    options = RLIF.options | {"tau_syn"}

    def __init__(
        self,
        tau: float = 2.0,
        tau_syn: float = 2.0,
        *,
        connection: str = "one_to_one",
        features: int | None = None,
        kernel_size: int = 3,
        weight: float | Tensor = 1.0,
        recurrent: nn.Module | None = None,
        learn_recurrent: bool = True,
        decay_input: bool = False,
        reset_delay: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(
            tau, connection=connection, features=features, kernel_size=kernel_size,
            weight=weight, recurrent=recurrent, learn_recurrent=learn_recurrent,
            decay_input=decay_input, reset_delay=reset_delay, v_threshold=v_threshold,
            v_reset=v_reset, detach_reset=detach_reset, surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        self.tau_syn = check_tau(tau_syn, name="tau_syn")


class KLIF(SpikingNeuron):
    """KLIF (Jiang & Zhang, ICASSP 2023): LIF whose charged membrane passes through
    ReLU(k ·) with a learnable scalar k (initialised to ``init_k``) before firing, so
    training tunes the surrogate's effective slope (SpikingJelly's ``KLIFNode``;
    ``scale_reset`` resets H / k against v_threshold / k). The state is ``v``."""

    options = SpikingNeuron.options | {"tau", "decay_input", "scale_reset", "init_k"}

    def __init__(
        self,
        tau: float = 2.0,
        *,
        init_k: float = 1.0,
        decay_input: bool = True,
        scale_reset: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset,
            surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        self.tau = check_tau(tau)
        self.decay_input = bool(decay_input)
        self.scale_reset = bool(scale_reset)
        self.k = nn.Parameter(torch.tensor(check_positive("init_k", init_k)))

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, self.v_rest)

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return klif(
            x, self.k, tau=self.tau, decay_input=self.decay_input, v_threshold=self.v_threshold,
            v_reset=self.v_reset, detach_reset=self.detach_reset, scale_reset=self.scale_reset,
            surrogate=self.surrogate, state=state,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"k={float(self.k.detach()):.4g}", *super()._extra_parts()]
