"""Multi-step neuron ops on ``[T, B, ...]`` tensors: ``if_``, ``lif``, ``plif``.

Each validates its input, resolves the backend and runs the op over all T steps
from ``v_init`` (rest when ``None``: ``v_reset``, or 0 for soft reset). Returns
the spikes, or ``(spikes, v_final)`` with ``return_state=True``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from spikestack.kernels import get_op
from spikestack.surrogates import ATan, Surrogate

_DEFAULT_SURROGATE = ATan()


def check_sequence(x: object, *, name: str = "x") -> Tensor:
    """Raise a clear error unless ``x`` is a floating tensor ``[T, B, ...]`` with T >= 1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [T, B, ...]; got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must be [T, B, ...] with at least 2 dims; got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must have T >= 1 time steps; got shape {tuple(x.shape)}")
    return x


def check_neuron_params(*, v_threshold: float, v_reset: float | None) -> None:
    if (
        not isinstance(v_threshold, (int, float))
        or not math.isfinite(v_threshold)
        or v_threshold <= 0
    ):
        raise ValueError(f"v_threshold must be a positive finite number; got {v_threshold!r}")
    if v_reset is not None:
        if not isinstance(v_reset, (int, float)) or not math.isfinite(v_reset):
            raise ValueError(
                f"v_reset must be a finite number or None (soft reset); got {v_reset!r}"
            )
        if v_reset >= v_threshold:
            raise ValueError(
                f"v_reset must be below v_threshold; got v_reset={v_reset}, v_threshold={v_threshold}"
            )


def check_tau(tau: float) -> None:
    if not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau <= 1:
        raise ValueError(
            f"tau must be a finite number > 1 (tau <= 1 makes the membrane forget or diverge); got {tau!r}"
        )


def check_surrogate(surrogate: object) -> Surrogate:
    if not isinstance(surrogate, Surrogate):
        raise TypeError(
            "surrogate must be a spikestack.surrogates.Surrogate (e.g. ATan()); "
            f"got {type(surrogate).__name__}"
        )
    return surrogate


def initial_state(
    x: Tensor, v_init: Tensor | None, v_reset: float | None, *, materialize: bool = True
) -> Tensor:
    """``v_init`` checked against ``x``, or the resting membrane: a new tensor, or with
    ``materialize=False`` a read-only stride-0 view of one value (no memory per neuron)."""
    if v_init is None:
        rest = 0.0 if v_reset is None else float(v_reset)
        if not materialize:
            return torch.full((), rest, dtype=x.dtype, device=x.device).expand(x.shape[1:])
        return torch.full(x.shape[1:], rest, dtype=x.dtype, device=x.device)
    if not isinstance(v_init, Tensor):
        raise TypeError(f"v_init (state) must be a tensor or None; got {type(v_init).__name__}")
    if v_init.shape != x.shape[1:]:
        raise ValueError(
            f"state shape {tuple(v_init.shape)} does not match the input's per-step shape "
            f"{tuple(x.shape[1:])}"
        )
    return v_init.to(dtype=x.dtype) if v_init.dtype != x.dtype else v_init


def _dispatch(
    op_name: str,
    x: Tensor,
    *args: Tensor,
    v_init: Tensor | None,
    v_threshold: float,
    v_reset: float | None,
    surrogate: Surrogate,
    return_state: bool,
    backend: str,
    **options: Any,
) -> Tensor | tuple[Tensor, Tensor]:
    """Check the shared options, build the initial state and run ``op_name`` on its backend."""
    check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    # The fused backends read a stride-0 resting state as one value for all neurons.
    v0 = initial_state(x, v_init, v_reset, materialize=False)
    op = get_op(op_name, backend, x)
    out = op(x, v0, *args, v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate, **options)
    return out if return_state else out[0]


def if_(
    x: Tensor,
    *,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    v_init: Tensor | None = None,
    return_state: bool = False,
    backend: str = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """Integrate-and-fire over ``x [T, B, ...]``; see :mod:`spikestack.functional.reference`."""
    check_sequence(x)
    return _dispatch(
        "if_", x, v_init=v_init, v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
        return_state=return_state, backend=backend, detach_reset=detach_reset,
    )  # fmt: skip


def lif(
    x: Tensor,
    *,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    decay_input: bool = True,
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    v_init: Tensor | None = None,
    return_state: bool = False,
    backend: str = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """Leaky integrate-and-fire over ``x [T, B, ...]``; see :mod:`spikestack.functional.reference`."""
    check_sequence(x)
    check_tau(tau)
    return _dispatch(
        "lif", x, v_init=v_init, v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
        return_state=return_state, backend=backend, tau=float(tau), decay_input=decay_input,
        detach_reset=detach_reset,
    )  # fmt: skip


def plif(
    x: Tensor,
    w: Tensor,
    *,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    decay_input: bool = True,
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    v_init: Tensor | None = None,
    return_state: bool = False,
    backend: str = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """Parametric LIF over ``x [T, B, ...]``: 1/tau = sigmoid(w) with ``w`` a learnable 0-d tensor."""
    check_sequence(x)
    if not isinstance(w, Tensor) or w.numel() != 1:
        raise ValueError(f"w must be a one-element tensor (1/tau = sigmoid(w)); got {w!r}")
    return _dispatch(
        "plif", x, w.reshape(()), v_init=v_init, v_threshold=v_threshold, v_reset=v_reset,
        surrogate=surrogate, return_state=return_state, backend=backend,
        decay_input=decay_input, detach_reset=detach_reset,
    )  # fmt: skip
