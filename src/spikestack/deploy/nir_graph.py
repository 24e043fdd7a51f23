"""NIR (the Neuromorphic Intermediate Representation, package ``nir``) export and import.

NIR describes neurons in continuous time; spikestack's neurons are discrete steps. The
mapping is the forward-Euler step of length ``dt`` (default 1e-4 s, snnTorch's choice):

    LIF   NIR: tau dv/dt = (v_leak - v) + r I;  fire when v > v_threshold; v -> v_reset
          spikestack LIF(tau_steps, decay_input):  tau = tau_steps · dt, v_leak = v_reset,
          r = 1 with decay_input (H = V + (X - (V - v_reset)) / tau_steps),
          r = tau_steps without (H = V - (V - v_reset) / tau_steps + X)
    PLIF  as LIF with its learned tau_steps = 1 / sigmoid(w)
    IF    NIR: dv/dt = r I;  spikestack IF:  r = 1 / dt (H = V + X)

NIR fires on v > v_threshold, spikestack on v >= v_threshold (equal only on a set of
measure zero). NIR resets to v_reset: soft-reset neurons (``v_reset=None``) have no NIR
form and raise. Each exported neuron also carries ``metadata["tau_steps"]`` and the graph
``metadata["dt"]``, so spikestack → NIR → spikestack restores the very same numbers.

Layers: Linear (NIR Affine, or Linear without bias), Conv1d/Conv2d, BatchNorm folded into
the conv or linear before it (running statistics: export an eval-mode network), average
pooling (AvgPool2d; ``divisor_override=1`` is NIR's SumPool2d), Flatten, and Dropout /
Identity (skipped). A network is exported as the chain of its body (``nn.Sequential``);
max pooling, attention, residual connections and any other layer raise, naming the layer.
The graph ends at the last layer's output, per step: decoding over time (the mean of the
readout) stays outside it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.atomic import atomic_write
from spikestack.deploy._chain import fold_batchnorm, layer_chain
from spikestack.layers import Flatten, TimeDistributed
from spikestack.neurons import IF, LIF, PLIF
from spikestack.validation import check_positive

DEFAULT_DT = 1e-4


def _nir() -> Any:
    try:
        return importlib.import_module("nir")
    except ImportError as err:  # pragma: no cover - nir is a plain dependency
        raise ImportError("NIR export needs the nir package: pip install nir") from err


def _step_shapes(model: nn.Module, chain: list[tuple[str, nn.Module]], x: Tensor) -> list[tuple]:
    """The shape of one sample at one step entering each layer of the chain."""
    shapes: dict[int, tuple[int, ...]] = {}

    def hook(i: int) -> Any:
        def record(module: nn.Module, args: tuple[Tensor, ...]) -> None:
            shapes.setdefault(i, tuple(args[0].shape[2:]))

        return record

    hooks = [module.register_forward_pre_hook(hook(i)) for i, (_, module) in enumerate(chain)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    missing = [chain[i][0] for i in range(len(chain)) if i not in shapes]
    if missing:
        raise ValueError(f"the sample input did not reach {missing}: is the body a plain chain?")
    return [shapes[i] for i in range(len(chain))]


def _array(value: float, shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, float(value), dtype=np.float64)


def _neuron_node(nir: Any, name: str, module: nn.Module, shape: tuple, dt: float) -> Any:
    if module.v_reset is None:
        raise ValueError(
            f"{name} ({type(module).__name__}) resets softly (v_reset=None); NIR neurons reset to "
            "v_reset, so this network has no NIR form"
        )
    vth, vr = _array(module.v_threshold, shape), _array(module.v_reset, shape)
    if isinstance(module, IF):
        return nir.IF(r=_array(1.0 / dt, shape), v_threshold=vth, v_reset=vr)
    tau = float(module.tau)
    meta: dict[str, float] = {"tau_steps": tau}
    if isinstance(module, PLIF):
        meta["plif_w"] = float(module.w.detach())  # restores the very same decay on import
    r = 1.0 if module.decay_input else tau
    return nir.LIF(
        tau=_array(tau * dt, shape), r=_array(r, shape), v_leak=vr.copy(), v_threshold=vth,
        v_reset=vr, metadata=meta,
    )  # fmt: skip


def to_nir(model: nn.Module, sample_input: Tensor, *, dt: float = DEFAULT_DT) -> Any:
    """The ``nir.NIRGraph`` of ``model`` (an ``nn.Sequential`` over ``[T, B, ...]`` or a
    model whose ``body`` is one); ``sample_input`` is what the model takes (it runs once to
    find each layer's shape). See the module docstring for the conventions."""
    nir = _nir()
    check_positive("dt", dt)
    chain = layer_chain(model, what="to_nir exports")
    was_training = model.training
    model.eval()
    try:
        shapes = _step_shapes(model, chain, sample_input)
    finally:
        model.train(was_training)
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(shapes[0])})}
    order = ["input"]
    pending: tuple[str, nn.Module, tuple] | None = None  # conv/linear waiting for a BatchNorm

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            nodes[pending[0]] = _synapse_node(nir, pending[1], pending[2], None)
            order.append(pending[0])
            pending = None

    for (name, module), shape in zip(chain, shapes, strict=True):
        inner = module.module if isinstance(module, TimeDistributed) else module
        if isinstance(inner, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if pending is None:
                raise ValueError(
                    f"{name} (BatchNorm) must follow a conv or linear layer to fold into it"
                )
            nodes[pending[0]] = _synapse_node(nir, pending[1], pending[2], inner)
            order.append(pending[0])
            pending = None
            continue
        flush()
        if isinstance(inner, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            pending = (name, inner, shape)
        elif isinstance(inner, (IF, LIF, PLIF)):
            nodes[name] = _neuron_node(nir, name, inner, shape, dt)
            order.append(name)
        elif isinstance(inner, Flatten):
            nodes[name] = nir.Flatten(
                input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1
            )
            order.append(name)
        elif isinstance(inner, nn.AvgPool2d):
            nodes[name] = _pool_node(nir, name, inner)
            order.append(name)
        elif isinstance(inner, (nn.Dropout, nn.Identity)):
            continue
        else:
            hint = (
                "NIR has no max pooling; use average pooling"
                if isinstance(inner, nn.MaxPool2d | nn.MaxPool1d)
                else "it has no NIR equivalent here"
            )
            raise ValueError(f"{name} ({type(inner).__name__}) cannot be exported to NIR: {hint}")
    flush()
    last = nodes[order[-1]].output_type["output"]
    nodes["output"] = nir.Output(output_type={"output": np.array(last)})
    order.append("output")
    edges = list(zip(order[:-1], order[1:], strict=False))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": float(dt)})


def _synapse_node(nir: Any, layer: nn.Module, shape: tuple, bn: nn.Module | None) -> Any:
    weight, bias = layer.weight.detach(), None if layer.bias is None else layer.bias.detach()
    if bn is not None:
        weight, bias = fold_batchnorm(weight, bias, bn)
    w = weight.double().cpu().numpy()
    b = None if bias is None else bias.double().cpu().numpy()
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


def _pool_node(nir: Any, name: str, pool: nn.AvgPool2d) -> Any:
    pair = lambda v: np.array(v if isinstance(v, tuple) else (v, v))  # noqa: E731
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
    atomic_write(path, lambda f: _nir().write(f, graph))


def read_nir(path: str | os.PathLike[str]) -> Any:
    """The ``nir.NIRGraph`` stored in ``path``, or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIR file at {path}")
    try:
        return _nir().read(str(path))
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable NIR graph: {err}") from err


def _scalar(name: str, field: str, value: Any) -> float:
    """One number for a per-neuron NIR parameter; spikestack neurons share their parameters."""
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    if flat.size == 0 or not np.all(flat == flat[0]):
        raise ValueError(
            f"NIR node {name!r}: {field} differs between neurons; spikestack neurons share one "
            "value per layer"
        )
    return float(flat[0])


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def _neuron_module(name: str, node: Any, dt: float) -> nn.Module:
    nir = _nir()
    vth = _scalar(name, "v_threshold", node.v_threshold)
    vr = _scalar(name, "v_reset", node.v_reset)
    meta = node.metadata or {}
    if isinstance(node, nir.IF):
        if not _close(_scalar(name, "r", node.r) * dt, 1.0):
            raise ValueError(
                f"NIR node {name!r}: IF with r != 1/dt (dt={dt}) has no spikestack form"
            )
        return IF(v_threshold=vth, v_reset=vr)
    tau = float(meta["tau_steps"]) if "tau_steps" in meta else _scalar(name, "tau", node.tau) / dt
    if not _close(_scalar(name, "v_leak", node.v_leak), vr):
        raise ValueError(
            f"NIR node {name!r}: v_leak != v_reset; spikestack's LIF leaks towards v_reset"
        )
    r = _scalar(name, "r", node.r)
    if _close(r, 1.0):
        decay_input = True
    elif _close(r, tau):
        decay_input = False
    else:
        raise ValueError(
            f"NIR node {name!r}: r = {r} is neither 1 (decay_input) nor tau/dt = {tau}"
        )
    if "plif_w" in meta:
        plif = PLIF(v_threshold=vth, v_reset=vr, decay_input=decay_input)
        with torch.no_grad():
            plif.w.fill_(float(meta["plif_w"]))
        return plif
    return LIF(tau=tau, v_threshold=vth, v_reset=vr, decay_input=decay_input)


def _layer_module(name: str, node: Any) -> nn.Module:
    nir = _nir()
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float32)
        has_bias = isinstance(node, nir.Affine)
        layer = nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        with torch.no_grad():
            layer.weight.copy_(w)
            if has_bias:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias)))
        return TimeDistributed(layer)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float32)
        kind = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
        if isinstance(node.padding, str):
            raise ValueError(f"NIR node {name!r}: padding {node.padding!r} is not supported")
        conv = kind(
            w.shape[1] * node.groups, w.shape[0], tuple(w.shape[2:]), stride=node.stride,
            padding=node.padding, dilation=node.dilation, groups=node.groups,
        )  # fmt: skip
        with torch.no_grad():
            conv.weight.copy_(w)
            conv.bias.copy_(torch.as_tensor(np.asarray(node.bias)))
        return TimeDistributed(conv)
    if isinstance(node, nir.Flatten):
        dims = len(node.input_type["input"]) if node.input_type["input"] is not None else None
        if node.start_dim != 0 or node.end_dim not in (-1, (dims or 0) - 1):
            raise ValueError(
                f"NIR node {name!r}: Flatten(start_dim={node.start_dim}, end_dim={node.end_dim}); "
                "only flattening a whole sample (0, -1) is supported"
            )
        return Flatten()
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        kernel = tuple(int(k) for k in np.asarray(node.kernel_size).reshape(-1))
        stride = tuple(int(k) for k in np.asarray(node.stride).reshape(-1))
        padding = tuple(int(k) for k in np.asarray(node.padding).reshape(-1))
        divisor = 1 if isinstance(node, nir.SumPool2d) else None
        return TimeDistributed(nn.AvgPool2d(kernel, stride, padding, divisor_override=divisor))
    raise ValueError(f"NIR node {name!r} ({type(node).__name__}) has no spikestack layer here")


def from_nir(graph_or_path: Any, *, dt: float | None = None) -> nn.Sequential:
    """An ``nn.Sequential`` over ``[T, B, ...]`` from a NIR graph (or a path to one) whose
    nodes form one chain from input to output. ``dt`` defaults to the graph's
    ``metadata["dt"]``, else 1e-4 s; see the module docstring for the mapping."""
    nir = _nir()
    graph = graph_or_path if isinstance(graph_or_path, nir.NIRGraph) else read_nir(graph_or_path)
    if dt is None:
        dt = float((graph.metadata or {}).get("dt", DEFAULT_DT))
    check_positive("dt", dt)
    following: dict[str, list[str]] = {}
    for a, b in graph.edges:
        following.setdefault(a, []).append(b)
    starts = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(starts) != 1:
        raise ValueError(f"the NIR graph has {len(starts)} Input nodes; from_nir reads one chain")
    layers: list[nn.Module] = []
    node_name, seen = starts[0], set()
    while True:
        nxt = following.get(node_name, [])
        if len(nxt) != 1:
            raise ValueError(
                f"NIR node {node_name!r} leads to {len(nxt)} nodes {nxt}; from_nir reads a chain "
                "(branches and residual adds are not imported yet)"
            )
        node_name = nxt[0]
        if node_name in seen:
            raise ValueError(
                f"the NIR graph loops back to {node_name!r} (recurrence is not imported)"
            )
        seen.add(node_name)
        node = graph.nodes[node_name]
        if isinstance(node, nir.Output):
            break
        if isinstance(node, (nir.IF, nir.LIF)):
            layers.append(_neuron_module(node_name, node, dt))
        else:
            layers.append(_layer_module(node_name, node))
    return nn.Sequential(*layers)
