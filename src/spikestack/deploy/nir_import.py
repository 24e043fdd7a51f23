"""NIR import: a graph (or file) from spikestack or another framework as a spikestack
network over ``[T, B, ...]``; the conventions are in :mod:`spikestack.deploy.nir_graph`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.deploy.nir_graph import DEFAULT_DT, nir_package, read_nir
from spikestack.deploy.quantize import QuantConfig, quantize
from spikestack.layers import Flatten, TimeDistributed
from spikestack.neurons import IF, LI, LIF, PLIF
from spikestack.validation import check_positive

__all__ = ["NIRNetwork", "from_nir"]


def _scalar(name: str, field: str, value: Any) -> float:
    """One number for a per-neuron NIR parameter; spikestack neurons share their parameters."""
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    if flat.size == 0 or not np.all(flat == flat[0]):
        raise ValueError(
            f"NIR node {name!r}: {field} differs between neurons; spikestack neurons share one "
            "value per layer"
        )
    return float(flat[0])


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def _neuron_module(name: str, node: Any, dt: float) -> nn.Module:
    nir = nir_package()
    if isinstance(node, nir.LI):
        decay_input, tau = _decay_input(name, node, _tau_steps(name, node, dt))
        return LI(tau, v_leak=_scalar(name, "v_leak", node.v_leak), decay_input=decay_input)
    vth = _scalar(name, "v_threshold", node.v_threshold)
    vr = _scalar(name, "v_reset", node.v_reset)
    if isinstance(node, nir.IF):
        if not _close(_scalar(name, "r", node.r) * dt, 1.0):
            raise ValueError(
                f"NIR node {name!r}: IF with r != 1/dt (dt={dt}) has no spikestack form"
            )
        return IF(v_threshold=vth, v_reset=vr)
    if not _close(_scalar(name, "v_leak", node.v_leak), vr):
        raise ValueError(
            f"NIR node {name!r}: v_leak != v_reset; spikestack's LIF leaks towards v_reset"
        )
    decay_input, tau = _decay_input(name, node, _tau_steps(name, node, dt))
    meta = node.metadata or {}
    if "plif_w" in meta:
        plif = PLIF(v_threshold=vth, v_reset=vr, decay_input=decay_input)
        with torch.no_grad():
            plif.w.fill_(float(meta["plif_w"]))
        return plif
    return LIF(tau=tau, v_threshold=vth, v_reset=vr, decay_input=decay_input)


def _tau_steps(name: str, node: Any, dt: float) -> float:
    """A neuron node's time constant in steps of ``dt`` (spikestack's own metadata first)."""
    meta = node.metadata or {}
    tau = float(meta["tau_steps"]) if "tau_steps" in meta else _scalar(name, "tau", node.tau) / dt
    if not tau > 1:
        raise ValueError(
            f"NIR node {name!r}: tau = {tau * dt:g} s is {tau:g} steps of dt = {dt:g} s; "
            "spikestack's neurons need tau > 1 step (read the graph with the dt it was made for)"
        )
    return tau


def _decay_input(name: str, node: Any, tau: float) -> tuple[bool, float]:
    """(decay_input, tau) from a node's r: 1 means decay_input, tau/dt means without (then
    r itself, 1 / (1 - beta), is the exact tau of a float32 graph)."""
    r = _scalar(name, "r", node.r)
    if _close(r, 1.0):
        return True, tau
    if _close(r, tau, 1e-6):  # float32 graphs: tau / dt is off in the last bits
        return False, tau if "tau_steps" in (node.metadata or {}) else r
    raise ValueError(f"NIR node {name!r}: r = {r} is neither 1 (decay_input) nor tau/dt = {tau}")


def _layer_module(name: str, node: Any) -> nn.Module:
    nir = nir_package()
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


class NIRNetwork(nn.Module):
    """A NIR graph with branches, run over ``[T, B, ...]``: each node's input is the sum of
    the outputs of the nodes with an edge into it (NIR's rule), nodes in graph order."""

    def __init__(self, modules: dict[str, nn.Module], inputs: dict[str, list[str]]) -> None:
        super().__init__()
        self.names = list(modules)
        self.inputs = inputs  # node name -> the names whose outputs it sums ("input" = x)
        self.layers = nn.ModuleDict({_key(k): m for k, m in modules.items()})

    def forward(self, x: Tensor) -> Tensor:
        values: dict[str, Tensor] = {"input": x}
        for name in [*self.names, "output"]:
            sources = [values[a] for a in self.inputs[name]]
            total = sources[0]
            for other in sources[1:]:
                total = total + other
            values[name] = total if name == "output" else self.layers[_key(name)](total)
        return values["output"]


def _key(name: str) -> str:
    return name.replace(".", "__")  # ModuleDict keys hold no dots


def _order(graph: Any, start: str, end: str) -> tuple[list[str], dict[str, list[str]]]:
    """The nodes between ``start`` and ``end`` in an order where every input comes first
    (Kahn's algorithm), and each node's inputs; a loop (recurrence) raises."""
    inputs: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        for node in (a, b):
            if node not in graph.nodes:
                raise ValueError(f"the NIR graph has an edge to or from a missing node {node!r}")
        inputs[b].append(a)
    waiting = {k: len(v) for k, v in inputs.items()}
    ready, order = [start], []
    following: dict[str, list[str]] = {}
    for a, b in graph.edges:
        following.setdefault(a, []).append(b)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for b in following.get(name, []):
            waiting[b] -= 1
            if waiting[b] == 0:
                ready.append(b)
    stuck = [k for k in graph.nodes if k not in order]
    if any(waiting[k] for k in stuck):
        raise ValueError(
            f"the NIR graph loops back (recurrence is not imported) or has inputs from outside "
            f"its Input: {sorted(stuck)}"
        )
    if stuck:
        raise ValueError(f"NIR nodes {sorted(stuck)} are not reached from the Input")
    if end not in order or order[-1] != end or not inputs[end]:
        raise ValueError(f"the NIR graph's Output {end!r} is not reached from its Input")
    return order[1:-1], inputs


def from_nir(graph_or_path: Any, *, dt: float | None = None) -> nn.Module:
    """The network of a NIR graph (or a path to one) over ``[T, B, ...]``: an
    ``nn.Sequential`` when the nodes form one chain, else a :class:`NIRNetwork` (residual
    adds as nodes with several inputs). ``dt`` defaults to the graph's
    ``metadata["dt"]``, else 1e-4 s; see the module docstring for the mapping."""
    nir = nir_package()
    graph = graph_or_path if isinstance(graph_or_path, nir.NIRGraph) else read_nir(graph_or_path)
    if dt is None:
        dt = float((graph.metadata or {}).get("dt", DEFAULT_DT))
    check_positive("dt", dt)
    ends = {
        kind: [k for k, v in graph.nodes.items() if isinstance(v, cls)]
        for kind, cls in (("Input", nir.Input), ("Output", nir.Output))
    }
    for kind, found in ends.items():
        if len(found) != 1:
            raise ValueError(f"the NIR graph has {len(found)} {kind} nodes; from_nir reads one")
    order, inputs = _order(graph, ends["Input"][0], ends["Output"][0])
    modules: dict[str, nn.Module] = {}
    for name in order:
        node = graph.nodes[name]
        if name in ("input", "output"):
            raise ValueError(f"NIR node {name!r} is a {type(node).__name__}; rename it")
        if isinstance(node, (nir.IF, nir.LIF, nir.LI)):
            modules[name] = _neuron_module(name, node, dt)
        else:
            modules[name] = _layer_module(name, node)
    chain = [ends["Input"][0], *order, ends["Output"][0]]
    network: nn.Module
    if all(inputs[b] == [a] for a, b in zip(chain[:-1], chain[1:], strict=False)):
        network = nn.Sequential(*modules.values())
    else:
        ins = {k: ["input" if a == ends["Input"][0] else a for a in v] for k, v in inputs.items()}
        ins["output"] = ins.pop(ends["Output"][0])
        network = NIRNetwork(modules, {k: ins[k] for k in [*order, "output"]})
    quantization = (graph.metadata or {}).get("quantization")
    if quantization is None:
        return network
    try:
        config = QuantConfig(**{k: int(v) for k, v in quantization.items()})
    except (TypeError, ValueError) as err:
        raise ValueError(f"the NIR graph's quantization metadata is not usable: {err}") from err
    return quantize(network, config).eval()
