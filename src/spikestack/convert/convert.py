"""ANN → SNN conversion: ReLU/QCFS networks become IF networks over ``[T, B, ...]``.

:func:`ann_to_snn` traces the ANN with torch.fx, folds BatchNorm into the convolution or
linear layer before it (``torch.fx.experimental.optimization.fuse``), and replaces each
ReLU or :class:`QCFS` by an IF neuron with a soft reset whose threshold θ is that layer's
activation scale: the maximum of the ReLU's output on the calibration data (``"max"``,
Diehl et al. 2015), its 99.9th percentile (``"percentile"``, Rueckauer et al. 2017), or
the trained clip level λ (``"qcfs"``). A spike stands for θ (the neuron emits θ·spike),
so the next layer's weights need no rescaling, and every membrane starts at θ/2 (the
rounding of QCFS; it halves the error of the others too). Everything else of the ANN —
convolutions, linear layers, average pooling, flatten, residual additions — runs
unchanged on the steps merged into the batch ``[T·B, ...]``; only the neurons see time.
The SNN's output is the ANN's output per step, ``[T, B, ...]``: its mean over time
approaches the ANN's output as T grows. Max pooling (of rates it is not the max of
spikes) and any module the converter does not know raise, naming the module. The ANN
itself is not changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
import torch.fx
from torch import Tensor, nn

from spikestack.convert.qcfs import QCFS
from spikestack.neurons import IF
from spikestack.validation import check_int

__all__ = ["ConvertedSNN", "ann_to_snn", "fold_batchnorm_in", "static_network"]

METHODS = ("max", "percentile", "qcfs")
_STATELESS = (
    nn.Conv1d, nn.Conv2d, nn.Linear, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout, nn.Identity, nn.BatchNorm1d, nn.BatchNorm2d,
)  # fmt: skip


class SpikingActivation(nn.Module):
    """An IF neuron with soft reset standing where a ReLU was: over the ``T`` steps merged
    into the batch, it fires spikes worth ``threshold`` each, membranes starting at θ/2."""

    def __init__(self, threshold: float, T: int) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.T = T
        self.neuron = IF(v_threshold=1.0, v_reset=None)  # in units of θ

    def forward(self, x: Tensor) -> Tensor:
        seq = x.unflatten(0, (self.T, -1)) / self.threshold
        seq = torch.cat([seq[:1] + 0.5, seq[1:]])  # the membrane starts half-way
        return (self.neuron(seq) * self.threshold).flatten(0, 1)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4g}, T={self.T}"


class ConvertedSNN(nn.Module):
    """The converted network: takes ``[T, B, ...]`` (or a static ``[B, ...]``, repeated over
    the ``T`` steps) and returns the per-step outputs ``[T, B, ...]``."""

    def __init__(self, graph: torch.fx.GraphModule, T: int, sample_dims: int) -> None:
        super().__init__()
        self.graph_module = graph
        self.T = T
        self.sample_dims = sample_dims  # dims of one sample, e.g. 3 for [C, H, W]

    @property
    def thresholds(self) -> dict[str, float]:
        """Each spiking activation's threshold θ by its module name (``ann_to_snn`` takes
        them back through ``thresholds=`` to rebuild this network without calibration)."""
        return {
            name: m.threshold
            for name, m in self.graph_module.named_modules()
            if isinstance(m, SpikingActivation)
        }

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == self.sample_dims + 1:
            x = x.unsqueeze(0).expand(self.T, *x.shape)
        if x.dim() != self.sample_dims + 2 or x.shape[0] != self.T:
            raise ValueError(
                f"the converted SNN takes [T={self.T}, B, ...] (or a static [B, ...]) with "
                f"{self.sample_dims}-D samples; got shape {tuple(x.shape)}"
            )
        out = self.graph_module(x.flatten(0, 1))
        return out.unflatten(0, (self.T, -1))


def fold_batchnorm_in(model: nn.Module) -> torch.fx.GraphModule:
    """A traced copy of ``model`` (eval mode) with each BatchNorm folded into the conv or
    linear layer before it."""
    from torch.fx.experimental.optimization import fuse

    was = model.training
    model.eval()
    try:
        copied = copy.deepcopy(model)
        graph = torch.fx.GraphModule(copied, _Tracer().trace(copied))
        return fuse(graph, inplace=True, no_trace=True)
    finally:
        model.train(was)


class _Tracer(torch.fx.Tracer):
    """Keeps QCFS whole (it is one activation to replace, not its arithmetic)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, QCFS) or super().is_leaf_module(m, qualname)


def _activation_scales(
    graph: torch.fx.GraphModule, nodes: list[torch.fx.Node], data: Iterable[Any],
    method: str, max_batches: int | None,
) -> tuple[dict[str, float], int]:  # fmt: skip
    """Per activation node, the max or 99.9th percentile of its output on ``data``; and
    the number of dims of one sample."""
    dims = 0
    seen: dict[str, list[Tensor]] = {n.name: [] for n in nodes}
    hooks = []
    for node in nodes:
        module = graph.get_submodule(node.target)

        def record(m: nn.Module, args: Any, out: Tensor, name: str = node.name) -> None:
            flat = out.detach().flatten()
            if method == "percentile" and flat.numel() > 200_000:  # keep memory bounded
                flat = flat[torch.randperm(flat.numel())[:200_000]]
            seen[name].append(flat if method == "percentile" else flat.max().reshape(1))

        hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            for i, batch in enumerate(data):
                if max_batches is not None and i >= max_batches:
                    break
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                dims = x.dim() - 1
                graph(x)
    finally:
        for hook in hooks:
            hook.remove()
    scales = {}
    for name, values in seen.items():
        if not values:
            raise ValueError("the calibration data yielded no batch")
        joined = torch.cat(values).float()
        value = float(joined.max()) if method == "max" else float(torch.quantile(joined, 0.999))
        scales[name] = value if value > 0 else 1.0  # a dead layer: any threshold gives no spike
    return scales, dims


def ann_to_snn(
    model: nn.Module,
    calibration: Iterable[Any] | None = None,
    *,
    method: str = "max",
    T: int = 32,
    max_batches: int | None = 10,
    sample_dims: int | None = None,
    thresholds: dict[str, float] | None = None,
) -> ConvertedSNN:
    """The SNN of ``model`` (see the module docstring). ``calibration`` yields batches
    ``x`` or ``(x, ...)`` of what the ANN takes (not needed for ``method="qcfs"``, which
    then needs ``sample_dims``: the dims of one sample, 3 for [C, H, W]). ``thresholds``
    (a converted network's :attr:`ConvertedSNN.thresholds`, with ``sample_dims``) rebuilds
    that network without calibration data."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    check_int("T", T, minimum=1)
    graph = fold_batchnorm_in(model)
    activations = []
    for node in graph.graph.nodes:
        if node.op == "call_function" and node.target in (torch.relu, nn.functional.relu):
            raise ValueError(
                f"{node.name}: a functional relu; use nn.ReLU modules so the converter can "
                "give each its threshold"
            )
        if node.op == "call_method" and node.target in ("relu", "relu_"):
            raise ValueError(f"{node.name}: Tensor.relu(); use nn.ReLU modules")
        if node.op != "call_module":
            continue
        module = graph.get_submodule(node.target)
        if isinstance(module, (nn.ReLU, QCFS)):
            activations.append(node)
        elif isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
            raise ValueError(
                f"{node.target} (MaxPool): max pooling of rates is not the max of spikes; use "
                "average pooling in the ANN"
            )
        elif not isinstance(module, _STATELESS):
            raise ValueError(
                f"{node.target} ({type(module).__name__}) cannot be converted (ReLU, QCFS, "
                "conv, linear, BatchNorm, average pooling, flatten, dropout and adds can)"
            )
    if not activations:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU or QCFS to turn into neurons")
    if thresholds is not None:
        names = {n.target for n in activations}
        if set(thresholds) != names:
            raise ValueError(
                f"thresholds name {sorted(thresholds)}, but the activations of "
                f"{type(model).__name__} are {sorted(names)}"
            )
        if sample_dims is None:
            raise ValueError("thresholds without calibration data need sample_dims")
        scales = {n.name: float(thresholds[n.target]) for n in activations}
    elif method == "qcfs":
        missing = [
            n.target for n in activations if not isinstance(graph.get_submodule(n.target), QCFS)
        ]
        if missing:
            raise ValueError(f"method='qcfs' needs QCFS activations; {missing} are ReLUs")
        scales = {n.name: float(graph.get_submodule(n.target).clip.detach()) for n in activations}
        if sample_dims is None:
            raise ValueError("method='qcfs' without calibration data needs sample_dims")
    else:
        if calibration is None:
            raise ValueError(f"method={method!r} needs calibration data")
        scales, seen_dims = _activation_scales(graph, activations, calibration, method, max_batches)
        sample_dims = seen_dims if sample_dims is None else sample_dims
    for node in activations:
        parent, _, leaf = node.target.rpartition(".")
        owner = graph.get_submodule(parent) if parent else graph
        setattr(owner, leaf, SpikingActivation(scales[node.name], T))
    graph.recompile()
    return ConvertedSNN(graph, T, check_int("sample_dims", sample_dims, minimum=1)).eval()


def static_network(model: nn.Module) -> nn.Sequential:
    """The per-step ANN inside a zoo model built as its twin (``neuron="relu"``) whose body
    is an ``nn.Sequential`` (``digits_csnn``, ``event_csnn``, ``mlp_snn``): each
    ``TimeDistributed(m)`` becomes ``m`` and the per-step ``Flatten`` an ``nn.Flatten``, so
    the result takes one step ``[B, ...]`` and shares the twin's weights. Other models
    (their own ``forward_sequence``) raise."""
    from spikestack.layers import Flatten, TimeDistributed

    body = getattr(model, "body", None)
    if not isinstance(body, nn.Sequential):
        raise ValueError(
            f"{type(model).__name__} has no sequential body of per-step layers; convert its "
            "per-step ANN with ann_to_snn directly"
        )
    layers: list[nn.Module] = []
    for i, layer in enumerate(body):
        if isinstance(layer, TimeDistributed):
            layers.append(layer.module)
        elif isinstance(layer, Flatten):
            layers.append(nn.Flatten())
        elif isinstance(layer, (nn.ReLU, QCFS)):
            layers.append(layer)
        else:
            raise ValueError(
                f"body.{i} ({type(layer).__name__}) is not a per-step layer or a ReLU: the model "
                "is not an ANN twin (train it with --neuron relu)"
            )
    return nn.Sequential(*layers)
