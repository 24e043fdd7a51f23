"""BatchNorm applied inside the neuron that follows it, in training on the CPU.

    fuse_batchnorm_neurons(model)   # in place; returns how many pairs were fused

In an ``nn.Sequential`` where a ``TimeDistributed`` block ends with a BatchNorm1d/2d
and the next layer is an :class:`~spikestack.neurons.IF`, :class:`~spikestack.neurons.LIF`
or :class:`~spikestack.neurons.PLIF` on the fused backends, the BatchNorm's
normalise-and-scale moves into the neuron's kernel
(:mod:`spikestack.kernels.batchnorm_neuron`): one write and one read of the activations
less per pair and step. Parameters, buffers, their names and objects stay where they
were (the BatchNorm keeps its weight, bias and running statistics, updated as torch
does), so checkpoints and optimisers are unaffected and outputs equal the unfused
:class:`~spikestack.layers.FastBatchNorm2d` + neuron value for value.

What changes is where the work happens: in training the BatchNorm returns its input
unchanged and the neuron normalises it, so a hook on the block's output sees the values
before normalisation. In eval mode both behave as before (and ``spikestack.optimize``
folds the BatchNorm into the conv there). Inputs the fused kernel cannot take (another
device or dtype, channels not innermost in memory, PLIF's Form.A decay gradient) are
normalised by the BatchNorm's own code first, inside the neuron: the result is the same.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.functional.neurons import initial_state
from spikestack.kernels import batchnorm_neuron, cpu
from spikestack.kernels._plan import FusedOps, NeuronPlan
from spikestack.layers.norm import (
    FastBatchNorm1d,
    FastBatchNorm2d,
    _FastBatchNorm,
    batch_norm,
    batch_schedule,
    update_running,
)
from spikestack.layers.time_distributed import TimeDistributed
from spikestack.neurons.base import State
from spikestack.neurons.lif import IF, LIF, PLIF

__all__ = ["BatchNormIF", "BatchNormLIF", "BatchNormPLIF", "fusable", "fuse_batchnorm_neurons"]


class _Deferred:
    """A BatchNorm whose training-mode work is done by the neuron after it."""

    def forward(self, x: Tensor) -> Tensor:
        if self.training:  # type: ignore[attr-defined]
            return x
        return _FastBatchNorm.forward(self, x)


class DeferredBatchNorm1d(_Deferred, FastBatchNorm1d):
    """A BatchNorm1d that leaves its training-mode work to the neuron after it."""


class DeferredBatchNorm2d(_Deferred, FastBatchNorm2d):
    """A BatchNorm2d that leaves its training-mode work to the neuron after it."""


_DEFERRED = {
    nn.BatchNorm1d: DeferredBatchNorm1d,
    FastBatchNorm1d: DeferredBatchNorm1d,
    nn.BatchNorm2d: DeferredBatchNorm2d,
    FastBatchNorm2d: DeferredBatchNorm2d,
}


def _normalise(bn: nn.Module, x: Tensor, momentum: float, track: bool) -> Tensor:
    """The BatchNorm's training-mode result on ``x [T, B, C, ...]``, as TimeDistributed
    would run it, for a batch already counted (:func:`batch_schedule`)."""
    flat = x.flatten(0, 1)
    y = batch_norm(
        flat, bn.running_mean if track else None, bn.running_var if track else None,
        bn.weight, bn.bias, True, momentum, bn.eps,
    )  # fmt: skip
    return y.unflatten(0, x.shape[:2])


class _WithBatchNorm:
    """A neuron that first applies, in training, the BatchNorm deferred to it."""

    _kernel_op: str  # the FusedOps method: "if_", "lif" or "plif"

    def _kernel_args(self) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
        return (), {}

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, Tensor]:
        bn = self.__dict__["_batchnorm"]
        neuron: Any = self
        base = super()._run  # type: ignore[misc]
        if not bn.training:
            return base(x, state)
        bn._check_input_dim(x.flatten(0, 1))  # as the layer checks its input
        momentum, _, track = batch_schedule(bn)  # in training: the batch's statistics
        if not cpu.supports(x) or neuron.backend not in ("auto", "cpu"):
            return base(_normalise(bn, x, momentum, track), state)

        def run(x: Tensor, v0: Tensor, decay: Tensor | None, plan: NeuronPlan) -> Any:
            if not batchnorm_neuron.supports(x, bn.num_features, plan, decay):
                return cpu.run_fused(_normalise(bn, x, momentum, track), v0, decay, plan)
            spikes, v, mean, var = batchnorm_neuron.batchnorm_neuron(
                x, bn.weight, bn.bias, bn.eps, v0, decay, plan
            )
            if track:
                count = x.numel() // x.shape[2]
                update_running(bn.running_mean, bn.running_var, mean, var, count, momentum)
            return spikes, v

        ops = FusedOps(run, plif_decay=cpu.plif_decay)
        args, options = self._kernel_args()
        v0 = initial_state(x, state, neuron.v_reset, materialize=False)
        return getattr(ops, self._kernel_op)(
            x, v0, *args, v_threshold=neuron.v_threshold, v_reset=neuron.v_reset,
            surrogate=neuron.surrogate, detach_reset=neuron.detach_reset, **options,
        )  # fmt: skip


class BatchNormIF(_WithBatchNorm, IF):
    """:class:`~spikestack.neurons.IF` applying the BatchNorm before it (see the module)."""

    _kernel_op = "if_"


class BatchNormLIF(_WithBatchNorm, LIF):
    """:class:`~spikestack.neurons.LIF` applying the BatchNorm before it (see the module)."""

    _kernel_op = "lif"

    def _kernel_args(self) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
        return (), {"tau": self.tau, "decay_input": self.decay_input}


class BatchNormPLIF(_WithBatchNorm, PLIF):
    """:class:`~spikestack.neurons.PLIF` applying the BatchNorm before it (see the module)."""

    _kernel_op = "plif"

    def _kernel_args(self) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
        return (self.w,), {"decay_input": self.decay_input}


_FUSED = {IF: BatchNormIF, LIF: BatchNormLIF, PLIF: BatchNormPLIF}


def _last_batchnorm(block: nn.Module) -> nn.Module | None:
    """The BatchNorm1d/2d (those classes exactly) that ``block``, a TimeDistributed (not a
    subclass: its forward is known), is or whose Sequential ends with; else None."""
    if type(block) is not TimeDistributed:
        return None
    inner = block.module
    if isinstance(inner, nn.Sequential) and len(inner):
        inner = inner[-1]
    return inner if type(inner) in _DEFERRED else None


def _pairs(model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """(BatchNorm, neuron) of every pair :func:`fuse_batchnorm_neurons` fuses."""
    pairs = []
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent.children())
        for block, neuron in zip(children, children[1:], strict=False):
            bn = _last_batchnorm(block)
            if bn is None or type(neuron) not in _FUSED:
                continue
            if getattr(neuron, "reset_delay", False) or neuron.backend not in ("auto", "cpu"):
                continue
            pairs.append((bn, neuron))
    return pairs


def fusable(model: nn.Module) -> bool:
    """Whether :func:`fuse_batchnorm_neurons` would fuse anything in ``model``."""
    return bool(_pairs(model))


def fuse_batchnorm_neurons(model: nn.Module) -> int:
    """Move the BatchNorm of every (TimeDistributed block ending with a BatchNorm, fused
    IF/LIF/PLIF) pair of consecutive ``nn.Sequential`` children into the neuron, in place
    (see the module docstring); returns how many pairs were fused."""
    pairs = _pairs(model)
    for bn, neuron in pairs:
        bn.__class__ = _DEFERRED[type(bn)]
        neuron.__class__ = _FUSED[type(neuron)]
        neuron.__dict__["_batchnorm"] = bn  # not a submodule: no second name for it
    return len(pairs)
