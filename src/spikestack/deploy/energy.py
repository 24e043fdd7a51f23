"""Synaptic operations and energy of a network, counted on real data.

The usual estimate of the spiking literature (Horowitz, ISSCC 2014, 45 nm CMOS, 32-bit
float; used by Spikformer, Spikingformer, SEW ResNet ...): a multiply-accumulate costs
E_MAC = 4.6 pJ and an accumulate E_AC = 0.9 pJ, and

    E = E_MAC · MAC + E_AC · AC

where a synaptic layer (Conv1d/2d, Linear) whose input is analog (the encoding layer, a
layer after an analog readout) performs its dense MACs every step, and a layer whose input
is spikes (every value 0 or 1, or 0 or one same c: a spike train scaled by c, such as a
converted SNN's threshold-weighted spikes, whose scale folds into the weights) performs
one accumulate per incoming spike and outgoing
synapse: its synaptic operations (SOP). The literature writes SOP = rate × T × FLOPs;
:func:`estimate_energy` counts the exact number instead (for a convolution, border spikes
reach fewer outputs), by running the layer's own operation on the spike indicator with
unit weights. Layers other than these (BatchNorm folded at inference, pooling, neurons)
are not counted, as in the papers.

Products of two activations (attention's Q·K^T·V: any ``@``, ``matmul`` or ``bmm`` run
inside the model) are counted by their operand types, for each matrix product A @ B ([..., n, m] @ [..., m, p]) run
inside the model: spikes × spikes does one accumulate per pair of non-zero terms that
meet (Σ_k colsum(A)_k · rowsum(B)_k); spikes × analog one accumulate per spike and column
of the other operand; analog × analog its dense n·m·p MACs. Element-wise masks (QKFormer's
token mask) and scalings are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.validation import check_positive

E_MAC = 4.6e-12  # J per 32-bit float multiply-accumulate, 45 nm (Horowitz 2014)
E_AC = 0.9e-12  # J per 32-bit float accumulate, 45 nm

_SYNAPTIC = (nn.Conv1d, nn.Conv2d, nn.Linear)


def energy_from_counts(*, mac: float, ac: float, e_mac: float = E_MAC, e_ac: float = E_AC) -> float:
    """Joules for ``mac`` multiply-accumulates and ``ac`` accumulates: e_mac·mac + e_ac·ac."""
    for name, value in (("mac", mac), ("ac", ac)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a count >= 0; got {value!r}")
    check_positive("e_mac", e_mac)
    check_positive("e_ac", e_ac)
    return float(e_mac) * float(mac) + float(e_ac) * float(ac)


@dataclass
class LayerCount:
    """What one synaptic layer did, summed over the samples seen."""

    name: str
    kind: str  # "Conv2d", "Linear" ...
    dense: float = 0.0  # MACs the dense layer would do, all samples
    inputs: float = 0.0  # input values seen, all steps
    nonzero: float = 0.0  # of those, non-zero
    mac: float = 0.0  # multiply-accumulates done on analog input, all samples
    sop: float = 0.0  # accumulates done for spike input (synaptic operations), all samples
    spiking: bool = True  # every input value seen was 0 or 1 (a batch is counted as what it got)
    operands: str = ""  # for a product of activations: "spikes×spikes", "spikes×analog" ...
    weights: int = 0  # parameters of the weight tensor
    fan_in: int = 0  # input values per sample and step
    neurons: int = 0  # output values per sample and step

    @property
    def rate(self) -> float:
        """Fraction of non-zero input values (the input firing rate for spike inputs)."""
        return self.nonzero / self.inputs if self.inputs else 0.0


@dataclass
class EnergyReport:
    """Per-layer counts per sample and the energy they cost (see the module docstring)."""

    layers: list[LayerCount]
    samples: int
    steps: int = 1  # time steps per sample (a sequence input's T, or the model's own T)
    e_mac: float = E_MAC
    e_ac: float = E_AC
    products: list[LayerCount] = field(default_factory=list)  # matmuls of activations
    totals: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        n = max(self.samples, 1)
        rows = [*self.layers, *self.products]
        mac = sum(layer.mac for layer in rows) / n
        sop = sum(layer.sop for layer in rows) / n
        dense = sum(layer.dense for layer in rows) / n
        self.totals = {
            "mac": mac,
            "sop": sop,
            "dense_macs": dense,
            "energy_j": energy_from_counts(mac=mac, ac=sop, e_mac=self.e_mac, e_ac=self.e_ac),
            "dense_energy_j": energy_from_counts(mac=dense, ac=0, e_mac=self.e_mac),
        }

    def table(self) -> str:
        """The per-layer table and the totals, per sample (what ``spikestack energy`` prints)."""
        n = max(self.samples, 1)
        rows = [
            f"{'layer':28} {'type':7} {'input':6} {'rate':>6} {'MAC':>11} {'SOP':>11} {'µJ':>9}"
        ]

        def row(count: LayerCount, middle: str) -> str:
            mac, sop = count.mac / n, count.sop / n
            e = energy_from_counts(mac=mac, ac=sop, e_mac=self.e_mac, e_ac=self.e_ac)
            return f"{count.name[:28]:28} {middle} {mac:11.4g} {sop:11.4g} {e * 1e6:9.4f}"

        for layer in self.layers:
            kind = "spikes" if layer.spiking else "analog"
            rows.append(row(layer, f"{layer.kind[:7]:7} {kind:6} {layer.rate:6.3f}"))
        for product in self.products:
            rows.append(row(product, f"{'A @ B':7} {product.operands:13}"))
        t = self.totals
        rows.append(
            f"total per sample ({self.samples} samples): {t['mac']:.4g} MAC, {t['sop']:.4g} SOP, "
            f"{t['energy_j'] * 1e6:.4f} µJ (the same network with dense MACs only: "
            f"{t['dense_energy_j'] * 1e6:.4f} µJ)"
        )
        return "\n".join(rows)


def _dense_macs(module: nn.Module, out: Tensor) -> int:
    """MACs of the call of ``module`` that gave ``out`` (all its leading batch entries)."""
    if isinstance(module, nn.Linear):
        return math.prod(out.shape[:-1]) * module.in_features * module.out_features
    fan_in = module.in_channels // module.groups * math.prod(module.kernel_size)
    return out.numel() * fan_in


def _synaptic_events(module: nn.Module, x: Tensor, skip_zero_weights: bool = False) -> int:
    """Accumulates that ``x`` causes: each non-zero input times the outputs it reaches (its
    synapses whose weight is non-zero, with ``skip_zero_weights``). For spikes these are
    the SOPs; for analog input, the MACs a sparse layer does."""
    spikes = (x != 0).to(torch.float64)
    synapses = (
        (module.weight.detach() != 0).to(torch.float64)
        if skip_zero_weights
        else torch.ones(module.weight.shape, dtype=torch.float64, device=x.device)
    )
    if isinstance(module, nn.Linear):
        return int((spikes.reshape(-1, spikes.shape[-1]).sum(0) * synapses.sum(0)).sum().item())
    if module.padding_mode != "zeros":
        raise ValueError(
            f"synaptic operations of {type(module).__name__} with padding_mode="
            f"{module.padding_mode!r} are not counted (only zero padding)"
        )
    conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
    out = conv(
        spikes, synapses, None, module.stride, module.padding, module.dilation, module.groups
    )
    return int(out.sum().item())


def _binary(x: Tensor) -> bool:
    """Spikes: every value 0 or one and the same value c > 0 (a spike train scaled by c,
    e.g. a converted SNN's threshold-weighted spikes; the scale folds into the weights)."""
    nonzero = x[x != 0]
    if not nonzero.numel():
        return True
    first = nonzero.reshape(-1)[0]
    return bool(first > 0) and bool((nonzero == first).all().item())


def _count_product(counts: dict[str, LayerCount], where: str, a: Tensor, b: Tensor) -> None:
    """Add one ``a @ b`` (both at least 2-D, leading dims broadcast) to the row of module
    ``where`` for its operand types."""
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    (n, m), p = a.shape[-2:], b.shape[-1]
    dense = math.prod(batch) * n * m * p
    spikes_a, spikes_b = _binary(a), _binary(b)
    operands = "×".join("spikes" if s else "analog" for s in (spikes_a, spikes_b))
    name = f"{where} {operands}".strip()
    c = counts.setdefault(name, LayerCount(name=name, kind="matmul", operands=operands))
    c.spiking = spikes_a and spikes_b
    nz_a = (a != 0).to(torch.float64).expand(*batch, n, m)
    nz_b = (b != 0).to(torch.float64).expand(*batch, m, p)
    c.dense += dense
    c.inputs += nz_a.numel() + nz_b.numel()
    c.nonzero += float(nz_a.sum() + nz_b.sum())
    if spikes_a and spikes_b:
        c.sop += float((nz_a.sum(-2) * nz_b.sum(-1)).sum())
    elif spikes_a:
        c.sop += float(nz_a.sum()) * p
    elif spikes_b:
        c.sop += float(nz_b.sum()) * n
    else:
        c.mac += dense


_MATMULS = {torch.matmul, torch.bmm, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.bmm}


class _ProductCounter(torch.overrides.TorchFunctionMode):
    """Counts the matrix products of activations run inside the model, per calling module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.counts: dict[str, LayerCount] = {}
        self.inside: list[str] = []
        self.hooks = []
        for name, module in model.named_modules():
            if not isinstance(module, _SYNAPTIC):
                self.hooks.append(module.register_forward_pre_hook(self._enter(name)))
                self.hooks.append(module.register_forward_hook(self._leave))

    def _enter(self, name: str) -> Any:
        def enter(module: nn.Module, args: Any) -> None:
            self.inside.append(name)

        return enter

    def _leave(self, module: nn.Module, args: Any, out: Any) -> None:
        self.inside.pop()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if (
            func in _MATMULS
            and len(args) == 2
            and all(torch.is_tensor(t) and t.dim() >= 2 for t in args)
        ):
            where = self.inside[-1] if self.inside else ""
            _count_product(self.counts, where, args[0].detach(), args[1].detach())
        return func(*args, **kwargs)

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def _unwrap_names(model: nn.Module) -> Iterable[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if isinstance(module, _SYNAPTIC):
            yield name.removesuffix(".module") or type(module).__name__, module


def estimate_energy(
    model: nn.Module,
    data: Iterable[Any],
    *,
    steps_per_sample: int | None = None,
    max_batches: int | None = None,
    e_mac: float = E_MAC,
    e_ac: float = E_AC,
    skip_zero_weights: bool = False,
) -> EnergyReport:
    """Run ``model`` on ``data`` (batches ``x`` or ``(x, label, ...)``) and count, for each
    Conv1d/Conv2d/Linear, its MACs on analog input and its synaptic operations on spikes.

    ``x`` is what the model takes (``[T, B, ...]`` for spikestack's sequence models); the
    number of samples of a batch is ``x.shape[1]`` when ``steps_per_sample`` (T) is given
    or the model declares ``T`` and ``input_layout == "sequence"``, else ``x.shape[0]``.
    Counts are reported per sample; the model runs in eval mode under ``torch.no_grad``
    and is left as it was. ``skip_zero_weights`` counts only synapses whose weight is
    non-zero (a pruned network on hardware that stores it sparsely).
    """
    check_positive("e_mac", e_mac)
    check_positive("e_ac", e_ac)
    counts: dict[nn.Module, LayerCount] = {}
    hooks = []

    def record(module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        x = args[0]
        c = counts[module]
        binary = _binary(x)
        c.spiking = c.spiking and binary
        c.inputs += x.numel()
        c.nonzero += float((x != 0).sum().item())
        dense = _dense_macs(module, out)
        c.dense += dense
        c.fan_in, c.neurons = x[0].numel(), out[0].numel()
        if binary:
            c.sop += _synaptic_events(module, x, skip_zero_weights)
        elif skip_zero_weights:  # a sparse layer multiplies only where it has a weight
            c.mac += _synaptic_events(module, torch.ones_like(x), True)
        else:
            c.mac += dense

    for name, module in _unwrap_names(model):
        counts[module] = LayerCount(
            name=name, kind=type(module).__name__, weights=module.weight.numel()
        )
        hooks.append(module.register_forward_hook(record))
    was_training = model.training
    samples = steps = 0
    sequence = steps_per_sample is not None or getattr(model, "input_layout", None) == "sequence"
    products = _ProductCounter(model)
    try:
        model.eval()
        with torch.no_grad(), products:
            for i, batch in enumerate(data):
                if max_batches is not None and i >= max_batches:
                    break
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                if not torch.is_tensor(x):
                    raise TypeError(
                        f"data must yield tensors or (tensor, ...) batches; got {type(x).__name__}"
                    )
                model(x)
                samples += int(x.shape[1] if sequence else x.shape[0])
                steps = int(x.shape[0]) if sequence else int(getattr(model, "T", 1))
    finally:
        for hook in hooks:
            hook.remove()
        products.remove()
        model.train(was_training)
    if samples == 0:
        raise ValueError("data yielded no batch to count on")
    if not counts and not products.counts:
        raise ValueError(
            f"{type(model).__name__} has no Conv1d, Conv2d or Linear layer and ran no matrix "
            "product to count"
        )
    return EnergyReport(
        list(counts.values()), samples, steps, e_mac=e_mac, e_ac=e_ac,
        products=list(products.counts.values()),
    )  # fmt: skip
