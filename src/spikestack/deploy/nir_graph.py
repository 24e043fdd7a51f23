"""NIR (the Neuromorphic Intermediate Representation, package ``nir``): the conventions,
export and file I/O; import is :mod:`spikestack.deploy.nir_import`.

NIR describes neurons in continuous time; spikestack's neurons are discrete steps. The
mapping is the forward-Euler step of length ``dt`` (default 1e-4 s, snnTorch's choice):

    LIF   NIR: tau dv/dt = (v_leak - v) + r I;  fire when v > v_threshold; v -> v_reset
          spikestack LIF(tau_steps, decay_input):  tau = tau_steps · dt, v_leak = v_reset,
          r = 1 with decay_input (H = V + (X - (V - v_reset)) / tau_steps),
          r = tau_steps without (H = V - (V - v_reset) / tau_steps + X)
    PLIF  as LIF with its learned tau_steps = 1 / sigmoid(w)
    IF    NIR: dv/dt = r I;  spikestack IF:  r = 1 / dt (H = V + X)
    LI    NIR: tau dv/dt = (v_leak - v) + r I, no threshold; spikestack LI as LIF above

NIR fires on v > v_threshold, spikestack on v >= v_threshold (equal only on a set of
measure zero). NIR resets to v_reset: soft-reset neurons (``v_reset=None``) have no NIR
form and raise. Each exported neuron also carries ``metadata["tau_steps"]`` and the graph
``metadata["dt"]``, so spikestack → NIR → spikestack restores the very same numbers.

Layers: Linear (NIR Affine, or Linear without bias), Conv1d/Conv2d, BatchNorm folded into
the conv or linear before it (running statistics: export an eval-mode network), average
pooling (AvgPool2d, ``divisor_override=1`` is NIR's SumPool2d; AdaptiveAvgPool2d with even
windows), Flatten, and Dropout / Identity (skipped). The per-step network (a model's
``body``, or its ``forward_sequence``) is traced with torch.fx; a residual add becomes what
NIR means by several edges into one node: their sum. Max pooling, products (SEW's AND/IAND,
attention), reshapes and any other layer raise, naming the module. The graph ends at the
last layer's output, per step: decoding over time (the mean of the readout) stays outside.
"""

from __future__ import annotations

import importlib
import operator
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.atomic import atomic_write
from spikestack.deploy.quantize import QuantLIF, QuantSynapse
from spikestack.layers import Flatten, TimeDistributed
from spikestack.layers.fold import fold_batchnorm
from spikestack.neurons import IF, LI, LIF, PLIF
from spikestack.neurons.base import Neuron
from spikestack.validation import check_positive

DEFAULT_DT = 1e-4


def nir_package() -> Any:
    try:
        return importlib.import_module("nir")
    except ImportError as err:  # pragma: no cover - nir is a plain dependency
        raise ImportError("NIR export needs the nir package: pip install nir") from err


def _array(value: float, shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, float(value), dtype=np.float64)


def _neuron_node(nir: Any, name: str, module: nn.Module, shape: tuple, dt: float) -> Any:
    if getattr(module, "reset_delay", False):
        raise ValueError(
            f"{name} ({type(module).__name__}) resets on the step after a spike "
            "(reset_delay=True, snnTorch's convention); NIR neurons reset at once, so this "
            "network has no NIR form"
        )
    soft = module.v_reset_units is None if isinstance(module, QuantLIF) else module.v_reset is None
    if soft:
        raise ValueError(
            f"{name} ({type(module).__name__}) resets softly (v_reset=None); NIR neurons reset to "
            "v_reset, so this network has no NIR form"
        )
    meta: dict[str, Any] = {}
    if isinstance(module, QuantLIF):  # the grid values; the integers ride along as metadata
        grid = 2.0**module.config.v_frac_bits
        vth, vr = module.v_threshold_units / grid, module.v_reset_units / grid
        tau = module.tau
        meta.update(
            v_threshold_units=module.v_threshold_units, v_reset_units=module.v_reset_units,
            v_limits=np.array(module.v_limits),
        )  # fmt: skip
        if module.leak_multiplier is not None:
            meta["leak_multiplier"] = module.leak_multiplier
    else:
        vth, vr = module.v_threshold, module.v_reset
        tau = None if isinstance(module, IF) else float(module.tau)
    vth, vr = _array(vth, shape), _array(vr, shape)
    if tau is None:
        return nir.IF(r=_array(1.0 / dt, shape), v_threshold=vth, v_reset=vr, metadata=meta)
    meta["tau_steps"] = tau
    if isinstance(module, PLIF):
        meta["plif_w"] = float(module.w.detach())  # restores the very same decay on import
    r = 1.0 if module.decay_input else tau
    return nir.LIF(
        tau=_array(tau * dt, shape), r=_array(r, shape), v_leak=vr.copy(), v_threshold=vth,
        v_reset=vr, metadata=meta,
    )  # fmt: skip


class _Tracer(torch.fx.Tracer):
    """Traces to spikestack's per-step layers and neurons, recording each op's module."""

    def __init__(self) -> None:
        super().__init__()
        self.modules_entered: list[tuple[str, str]] = []

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(
            m, (Neuron, TimeDistributed, Flatten, QuantSynapse)
        ) or super().is_leaf_module(m, qualname)

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        self.modules_entered.append((self.path_of_module(m), type(m).__name__))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.modules_entered.pop()

    def create_node(self, *args: Any, **kwargs: Any) -> torch.fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta["scope"] = self.modules_entered[-1] if self.modules_entered else ("", "the model")
        return node


class _Sequence(nn.Module):
    """A SpikingModel's per-step network over ``[T, B, ...]`` (its ``forward_sequence``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.forward_sequence(x)


def _traced(
    model: nn.Module, sample_input: Tensor
) -> tuple[torch.fx.GraphModule, str, str, Tensor]:
    """The traced per-step network (every value's shape recorded by ShapeProp), the prefix
    its module names lose and the one they gain to be the model's, and the ``[T, B, ...]``
    input it takes."""
    from torch.fx.passes.shape_prop import ShapeProp

    x = sample_input
    if isinstance(getattr(model, "body", None), nn.Sequential):
        root, prefix = model.body, "body."
        x = model.as_sequence(x) if hasattr(model, "as_sequence") else x
    elif hasattr(model, "forward_sequence") and hasattr(model, "as_sequence"):
        root, prefix, x = _Sequence(model), "", model.as_sequence(x)
    else:
        root, prefix = model, ""
    try:
        graph = _Tracer().trace(root)
    except Exception as err:  # fx raises many types; none of them is the user's fault
        raise ValueError(
            f"{type(model).__name__} cannot be traced for NIR export ({err}); export a network "
            "of layers, neurons and residual adds without shape-dependent Python"
        ) from err
    gm = torch.fx.GraphModule(root, graph)
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(x)
    except RuntimeError as err:
        raise ValueError(
            f"{type(model).__name__} did not run on the sample input of shape "
            f"{tuple(sample_input.shape)}: {str(err).splitlines()[0]}"
        ) from err
    return gm, ("model." if isinstance(root, _Sequence) else ""), prefix, x


def _unsupported(node: torch.fx.Node, what: str) -> ValueError:
    path, kind = node.meta.get("scope", ("", "the model"))
    where = f"{path} ({kind})" if path else kind
    return ValueError(
        f"{where}: {what} has no NIR form (NIR graphs hold layers, neurons and sums of their "
        "outputs: residual ADD; attention, products of spikes and reshapes are not exported)"
    )


def to_nir(model: nn.Module, sample_input: Tensor, *, dt: float = DEFAULT_DT) -> Any:
    """The ``nir.NIRGraph`` of ``model``'s per-step network: an ``nn.Sequential`` over
    ``[T, B, ...]``, a model whose ``body`` is one, or a SpikingModel whose
    ``forward_sequence`` is layers, neurons and residual adds; ``sample_input`` is what the
    model takes (it runs once to find each layer's shape). Each node is named by its
    module's qualified name; see the module docstring for the conventions."""
    nir = nir_package()
    check_positive("dt", dt)
    was_training = model.training
    model.eval()
    try:
        gm, strip, prefix, x = _traced(model, sample_input)
    finally:
        model.train(was_training)
    return _Exporter(nir, gm, strip, prefix, dt).graph(tuple(x.shape[2:]))


class _Exporter:
    """Walks a traced network; a value is the list of NIR nodes whose outputs sum to it."""

    def __init__(self, nir: Any, gm: Any, strip: str, prefix: str, dt: float) -> None:
        self.nir, self.gm, self.strip, self.prefix, self.dt = nir, gm, strip, prefix, dt
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        # conv/linear layers waiting to see whether a BatchNorm folds into them
        self.pending: dict[str, tuple[nn.Module, tuple, list[str]]] = {}
        self.quantization: dict[str, int] | None = None  # a quantized network's QuantConfig

    def name(self, target: str) -> str:
        return self.prefix + target.removeprefix(self.strip)

    def graph(self, input_shape: tuple[int, ...]) -> Any:
        nir = self.nir
        self.nodes["input"] = nir.Input(input_type={"input": np.array(input_shape)})
        values: dict[torch.fx.Node, list[str]] = {}
        uses = {node: len(node.users) for node in self.gm.graph.nodes}
        result: list[str] | None = None
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if values:
                    raise _unsupported(node, "a second input")
                values[node] = ["input"]
            elif node.op == "call_module":
                source = node.args[0] if node.args else None
                if len(node.args) != 1 or node.kwargs or not isinstance(source, torch.fx.Node):
                    raise _unsupported(node, f"calling {node.target} with several arguments")
                shape = tuple(source.meta["tensor_meta"].shape[2:])
                values[node] = self.module(
                    self.name(node.target), self.gm.get_submodule(node.target), values[source],
                    shape, single_use=uses[node] == 1,
                )  # fmt: skip
            elif node.op == "call_function" and node.target in (operator.add, torch.add):
                a, b = node.args[:2] if len(node.args) >= 2 else (None, None)
                if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)) or (
                    node.kwargs
                ):
                    raise _unsupported(node, "adding a constant")
                values[node] = values[a] + values[b]
                if len(set(values[node])) != len(values[node]):
                    raise _unsupported(node, "adding a value to itself")
            elif node.op == "call_method" and node.target == "flatten" and self._flat(node):
                source = node.args[0]
                shape = tuple(source.meta["tensor_meta"].shape[2:])
                values[node] = self.module(
                    f"flatten_{len(self.nodes)}", Flatten(), values[source], shape, True
                )
            elif node.op == "call_function" and "tensor_meta" not in node.meta:
                continue  # sizes and other Python values: they matter only where used
            elif node.op == "output":
                result = values[node.args[0]] if isinstance(node.args[0], torch.fx.Node) else None
                if result is None:
                    raise _unsupported(node, "an output that is not one tensor")
                shape = tuple(node.args[0].meta["tensor_meta"].shape[2:])
            else:
                what = node.target if isinstance(node.target, str) else node.target.__name__
                raise _unsupported(node, f"the operation {what!r}")
        assert result is not None
        self.materialise(result)
        self.nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
        self.edges += [(a, "output") for a in result]
        metadata: dict[str, Any] = {"dt": float(self.dt)}
        if self.quantization is not None:
            metadata["quantization"] = self.quantization
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=metadata)

    @staticmethod
    def _flat(node: torch.fx.Node) -> bool:
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return start == 2 and end == -1

    def materialise(self, value: list[str]) -> None:
        """Write the conv/linear nodes of ``value`` still waiting for a BatchNorm."""
        for name in value:
            if name in self.pending:
                layer, shape, inputs = self.pending.pop(name)
                self.add(name, _synapse_node(self.nir, layer, shape, None), inputs)

    def add(self, name: str, node: Any, inputs: list[str]) -> list[str]:
        self.nodes[name] = node
        self.edges += [(a, name) for a in inputs]
        return [name]

    def module(
        self, name: str, module: nn.Module, value: list[str], shape: tuple, single_use: bool
    ) -> list[str]:
        """The value after ``module`` (a layer, a TimeDistributed one or a neuron)."""
        inner = module.module if isinstance(module, TimeDistributed) else module
        if isinstance(inner, nn.Sequential):  # conv_bn and the like: one step's chain
            dtype = next(inner.parameters(), torch.zeros(())).dtype
            x = torch.zeros((1, *shape), dtype=dtype)
            layers = list(inner.named_children())
            for i, (child, layer) in enumerate(layers):
                last = i == len(layers) - 1
                value = self.layer(f"{name}.module.{child}", layer, value, tuple(x.shape[1:]),
                                   single_use or not last)  # fmt: skip
                with torch.no_grad():
                    x = layer.eval()(x) if not isinstance(layer, Neuron) else x
            return value
        return self.layer(name, inner, value, shape, single_use)

    def layer(
        self, name: str, inner: nn.Module, value: list[str], shape: tuple, single_use: bool
    ) -> list[str]:
        nir = self.nir
        if isinstance(inner, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if len(value) != 1 or value[0] not in self.pending:
                raise ValueError(
                    f"{name} (BatchNorm) must follow a conv or linear layer to fold into it"
                )
            synapse, syn_shape, inputs = self.pending.pop(value[0])
            return self.add(value[0], _synapse_node(nir, synapse, syn_shape, inner), inputs)
        if isinstance(inner, (nn.Dropout, nn.Identity)):
            return value
        self.materialise(value)
        if isinstance(inner, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            if single_use:
                self.pending[name] = (inner, shape, value)
                return [name]
            return self.add(name, _synapse_node(nir, inner, shape, None), value)
        if isinstance(inner, QuantSynapse):
            self.quantization = dict(vars(inner.config))
            return self.add(name, _quant_synapse_node(nir, inner, shape), value)
        if isinstance(inner, LI):
            r = 1.0 if inner.decay_input else inner.tau
            node = nir.LI(
                tau=_array(inner.tau * self.dt, shape), r=_array(r, shape),
                v_leak=_array(inner.v_leak, shape), metadata={"tau_steps": inner.tau},
            )  # fmt: skip
            return self.add(name, node, value)
        if isinstance(inner, (IF, LIF, PLIF, QuantLIF)):
            return self.add(name, _neuron_node(nir, name, inner, shape, self.dt), value)
        if isinstance(inner, (Flatten, nn.Flatten)):
            if isinstance(inner, nn.Flatten) and (inner.start_dim, inner.end_dim) != (1, -1):
                raise ValueError(f"{name}: only flattening whole steps is exported")
            node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            return self.add(name, node, value)
        if isinstance(inner, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
            return self.add(name, _pool_node(nir, name, inner, shape), value)
        hint = (
            "NIR has no max pooling; use average pooling"
            if isinstance(inner, nn.MaxPool2d | nn.MaxPool1d)
            else "it has no NIR equivalent here"
        )
        raise ValueError(f"{name} ({type(inner).__name__}) cannot be exported to NIR: {hint}")


def _synapse_node(nir: Any, layer: nn.Module, shape: tuple, bn: nn.Module | None) -> Any:
    weight, bias = layer.weight.detach(), None if layer.bias is None else layer.bias.detach()
    if bn is not None:
        weight, bias = fold_batchnorm(weight, bias, bn)
    w = weight.double().cpu().numpy()
    b = None if bias is None else bias.double().cpu().numpy()
    return _weights_node(nir, layer, shape, w, b)


def _quant_synapse_node(nir: Any, syn: QuantSynapse, shape: tuple) -> Any:
    """The grid values q · 2^-e of a quantized layer (exact in float64), its bias on the
    membrane grid, and the exponents as metadata: q = weight · 2^exponent is exact."""
    q, e = syn.integer_weight()
    channel = (-1,) + (1,) * (q.dim() - 1)
    w = (q.double() * torch.pow(2.0, -e.double()).reshape(channel)).numpy()
    b = (syn.integer_bias().double() / 2.0**syn.config.v_frac_bits).numpy()
    node = _weights_node(nir, syn.layer, shape, w, b)
    node.metadata = {"weight_exponent": e.numpy(), "weight_bits": syn.config.weight_bits}
    return node


def _weights_node(
    nir: Any, layer: nn.Module, shape: tuple, w: np.ndarray, b: np.ndarray | None
) -> Any:
    if isinstance(layer, nn.Linear):
        return nir.Linear(weight=w) if b is None else nir.Affine(weight=w, bias=b)
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise ValueError(
            f"{type(layer).__name__} with padding {layer.padding!r}/{layer.padding_mode!r}: only numeric zero padding is exported"
        )
    conv = nir.Conv1d if isinstance(layer, nn.Conv1d) else nir.Conv2d
    size = shape[1] if isinstance(layer, nn.Conv1d) else tuple(shape[1:])
    return conv(
        input_shape=size, weight=w, stride=layer.stride, padding=layer.padding,
        dilation=layer.dilation, groups=layer.groups,
        bias=np.zeros(w.shape[0]) if b is None else b,
    )  # fmt: skip


def _pool_node(nir: Any, name: str, pool: nn.Module, shape: tuple) -> Any:
    pair = lambda v: np.array(v if isinstance(v, tuple) else (v, v))  # noqa: E731
    if isinstance(pool, nn.AdaptiveAvgPool2d):
        h, w = shape[-2:]
        size = pool.output_size if isinstance(pool.output_size, tuple) else (pool.output_size,) * 2
        oh, ow = size[0] or h, size[1] or w
        if h % oh or w % ow:
            raise ValueError(
                f"{name}: adaptive average pooling {h}x{w} -> {oh}x{ow} has uneven windows "
                "(no NIR form)"
            )
        kernel = (h // oh, w // ow)
        return nir.AvgPool2d(kernel_size=pair(kernel), stride=pair(kernel), padding=pair(0))
    if pool.ceil_mode or (not pool.count_include_pad and pool.padding not in (0, (0, 0))):
        raise ValueError(
            f"{name}: AvgPool2d with ceil_mode or count_include_pad=False has no NIR form"
        )
    stride = pool.stride if pool.stride is not None else pool.kernel_size
    kind = nir.SumPool2d if pool.divisor_override == 1 else nir.AvgPool2d
    if pool.divisor_override not in (None, 1):
        raise ValueError(
            f"{name}: AvgPool2d divisor_override={pool.divisor_override} has no NIR form"
        )
    return kind(kernel_size=pair(pool.kernel_size), stride=pair(stride), padding=pair(pool.padding))


def write_nir(path: str | os.PathLike[str], graph: Any) -> None:
    """Write ``graph`` to ``path`` (NIR's HDF5 file) atomically."""
    atomic_write(path, lambda f: nir_package().write(f, graph))


def read_nir(path: str | os.PathLike[str]) -> Any:
    """The ``nir.NIRGraph`` stored in ``path``, or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIR file at {path}")
    try:
        return nir_package().read(str(path))
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable NIR graph: {err}") from err
