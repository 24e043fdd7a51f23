"""Multi-step neuron ops on ``[T, B, ...]`` tensors: ``if_``, ``lif``, ``plif``.

Each validates its input, resolves the backend and runs the op over all T steps
from ``v_init`` (rest when ``None``: ``v_reset``, or 0 for soft reset). Returns
the spikes, or ``(spikes, v_final)`` with ``return_state=True``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikestack.kernels import get_op
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_neuron_params, check_sequence, check_tau

_DEFAULT_SURROGATE = ATan()


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
    """Integrate-and-fire over ``x [T, B, ...]``; see :mod:`spikestack.kernels.reference`."""
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
    """Leaky integrate-and-fire over ``x [T, B, ...]``; see :mod:`spikestack.kernels.reference`."""
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
