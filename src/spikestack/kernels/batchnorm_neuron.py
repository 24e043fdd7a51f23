"""Training-mode batch normalisation applied inside the fused IF/LIF/PLIF kernel (CPU).

A BatchNorm followed by a neuron costs, unfused, one more write and read of the
activations than the neuron alone: BN writes y = a · x + b, the neuron reads it. Here
the statistics pass over x runs as in :mod:`spikestack.kernels.batchnorm`, and the
neuron kernel computes y block by block in cache from x, a and b (the same arithmetic,
value for value: spikes and membranes equal those of the two layers run one after the
other on these kernels). Backward is the two layers' backward: the neuron's writes
dL/dy, BatchNorm's reads it with x.

    spikes, v_final, mean, var = batchnorm_neuron(x, weight, bias, eps, v_init, decay, plan)

``x [T, B, C, ...]`` with channels innermost in memory (channels-last per step, or
``[T, B, C]``); the statistics are over T, B and space, as a BatchNorm inside
``TimeDistributed`` computes them. ``mean`` and the biased ``var`` are for the caller's
running statistics.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from spikestack.kernels import batchnorm, cpu
from spikestack.kernels._plan import Form, NeuronPlan

__all__ = ["batchnorm_neuron", "supports"]


def supports(x: Tensor, channels: int, plan: NeuronPlan, decay: Tensor | None) -> bool:
    """CPU float32/float64 ``x [T, B, channels, ...]`` stored with channels innermost and
    more than one value per channel, for a neuron whose backward does not read its input
    (PLIF's Form.A decay gradient does)."""
    return (
        cpu.is_available()
        and x.dim() >= 3
        and x.shape[2] == channels
        and batchnorm.supports(x.flatten(0, 1))
        and not (decay is not None and decay.requires_grad and plan.form == Form.A)
    )


class _BatchNormNeuron(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None, v_init: Tensor,
        decay: Tensor | None, eps: float, plan: NeuronPlan,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
        ctx.set_materialize_grads(False)
        flat = x.detach().flatten(0, 1)
        xa = batchnorm.rows(flat)
        mean, var, invstd, gamma, a, b = batchnorm.statistics(xa, weight, bias, eps)
        need = ctx.needs_input_grad
        needs = (any(need[:3]), need[3], need[4])
        spikes, v_final, saved = cpu.neuron_forward(ctx, x, v_init, decay, plan, needs, (a, b))
        ctx.save_for_backward(flat, *saved)
        ctx.stats = (mean, invstd, gamma)
        ctx.has = (weight is not None, bias is not None)
        ctx.steps_batch = tuple(x.shape[:2])
        mean_t, var_t = batchnorm.moments(mean, var, x.dtype)
        ctx.mark_non_differentiable(mean_t, var_t)
        return spikes, v_final, mean_t, var_t

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad_spikes: Tensor | None, grad_v: Tensor | None, _gm: Any, _gv: Any
    ) -> tuple[Tensor | None, ...]:
        flat, *saved = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy, g_v0, g_decay = cpu.neuron_backward(
            ctx, tuple(saved), grad_spikes, grad_v, need[3], need[4]
        )
        dx = dgamma = dbeta = None
        if any(need[:3]):
            # dL/dy [T, N] is in x's memory order, channels innermost: BatchNorm's rows
            ga = gy.numpy().reshape(-1, flat.shape[1])
            dx, dgamma, dbeta = batchnorm.gradients(
                ga, batchnorm.rows(flat), *ctx.stats, flat if need[0] else None
            )
            dgamma, dbeta = batchnorm.parameter_grads(ctx, dgamma, dbeta, flat.dtype, first=1)
        if dx is not None:
            dx = dx.unflatten(0, ctx.steps_batch)
        return dx, dgamma, dbeta, g_v0, g_decay, None, None


def batchnorm_neuron(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float, v_init: Tensor,
    decay: Tensor | None, plan: NeuronPlan,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """(spikes, V_final, batch mean, batch biased variance): the neuron of ``plan`` on
    ``weight · (x - mean) / sqrt(var + eps) + bias`` (see the module docstring)."""
    channels = x.shape[2] if x.dim() >= 3 else -1
    if not supports(x, channels, plan, decay):
        raise ValueError(
            "batchnorm_neuron takes a CPU float32/float64 [T, B, C, ...] tensor stored with "
            "channels innermost and more than one value per channel, and not PLIF's Form.A "
            f"with a learnable decay; got {x.dtype} {tuple(x.shape)} with strides "
            f"{x.stride()} on {x.device}"
        )
    return _BatchNormNeuron.apply(x, weight, bias, v_init, decay, float(eps), plan)
