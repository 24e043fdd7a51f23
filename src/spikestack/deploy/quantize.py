"""Quantization-aware training in fixed point, with an integer twin that computes the same spikes.

A chip stores weights as small integers and the membrane as a fixed-point number; this
module trains the network as the chip computes it. With ``QuantConfig(weight_bits=b,
v_bits=B, v_frac_bits=F)`` (spec string ``"wbvB"`` or ``"wbvB.F"``):

- weights: per output channel w = q · 2^-e_c with q a b-bit signed integer in
  [-(2^(b-1) - 1), 2^(b-1) - 1] and e_c the largest power-of-two exponent (at most F) that
  fits the channel's largest weight; BatchNorm is folded into the layer first;
- inputs that are not spikes (the encoding layer's) are rounded to 2^-Fi
  (``input_frac_bits``); spikes are 0 or 1 and stay exact;
- a layer's output, the input current, is floored to the membrane grid 2^-F, and its bias
  rounded to it;
- neurons (:class:`QuantLIF`, standing for IF, LIF and PLIF) keep the membrane in units
  of 2^-F within B signed bits (saturating), the leak as a fixed-point multiply
  ``(d · m) >> L`` with m = round(2^L / tau) (for tau = 2^k this is the shift ``d >> k``),
  and the threshold and reset rounded to the grid.

Every rounding is a floor or round of an exactly representable value, computed in float64
with straight-through gradients (the surrogate gradient at the threshold as usual), so the
fake-quantized network is exactly the integer one: :class:`IntegerNetwork` runs the same
chain with int64 tensors only (integer matrix products, shifts, comparisons) and gives the
same spikes and outputs (tests/deploy/test_quantize.py), and :func:`export_integer` writes
its integers to a ``.npz`` (layout in docs/deploy.md).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.layers import TimeDistributed
from spikestack.neurons import IF, LIF, PLIF
from spikestack.neurons.base import Neuron, State
from spikestack.surrogates import Surrogate, heaviside
from spikestack.validation import check_int

_SPEC = re.compile(r"^w(\d+)v(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class QuantConfig:
    """Bit widths of weights and membrane (see the module docstring)."""

    weight_bits: int = 8
    v_bits: int = 16
    v_frac_bits: int = 8
    input_frac_bits: int = 8
    leak_frac_bits: int = 16

    def __post_init__(self) -> None:
        check_int("weight_bits", self.weight_bits, minimum=2)
        check_int("v_bits", self.v_bits, minimum=2)
        check_int("v_frac_bits", self.v_frac_bits, minimum=0)
        check_int("input_frac_bits", self.input_frac_bits, minimum=0)
        check_int("leak_frac_bits", self.leak_frac_bits, minimum=1)
        if self.v_frac_bits >= self.v_bits:
            raise ValueError(
                f"v_frac_bits ({self.v_frac_bits}) must be below v_bits ({self.v_bits}): "
                "the membrane needs integer bits for its threshold"
            )

    @classmethod
    def parse(cls, spec: str) -> QuantConfig:
        """``"w8v16"`` (8-bit weights, 16-bit membrane with half its bits fractional) or
        ``"w4v8.4"`` (4-bit weights, 8-bit membrane with 4 fractional bits)."""
        match = _SPEC.match(str(spec).strip())
        if match is None:
            raise ValueError(
                f"quantization spec must look like w8v16 or w4v8.4 (weight bits, membrane bits"
                f"[.fractional bits]); got {spec!r}"
            )
        w, v, frac = match.groups()
        return cls(int(w), int(v), int(frac) if frac is not None else int(v) // 2)

    def __str__(self) -> str:
        return f"w{self.weight_bits}v{self.v_bits}.{self.v_frac_bits}"


def _ste(x: Tensor, q: Tensor) -> Tensor:
    """``q`` forward, the gradient of ``x`` backward (straight-through)."""
    return x + (q - x).detach()


def weight_exponents(weight: Tensor, config: QuantConfig) -> Tensor:
    """Per output channel, the largest e <= F with max|w_c| · 2^e <= 2^(b-1) - 1."""
    qmax = 2 ** (config.weight_bits - 1) - 1
    peak = weight.detach().abs().flatten(1).amax(1).double()
    e = torch.floor(torch.log2(qmax / peak.clamp_min(1e-30)))
    return e.clamp(max=config.v_frac_bits).to(torch.int64)


class QuantSynapse(nn.Module):
    """A Conv1d/Conv2d/Linear with fixed-point weights, inputs and output current (float64).

    A BatchNorm that followed the layer is folded into it as in quantization-aware
    training with folded BatchNorm (Jacob et al., CVPR 2018): in training the float layer's
    output gives the batch statistics (and updates the running ones), the weights are
    folded with them and then quantized; in evaluation (and in the integer twin) the
    running statistics are folded.
    """

    def __init__(self, layer: nn.Module, config: QuantConfig, bn: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            raise TypeError(
                f"QuantSynapse wraps Conv1d, Conv2d or Linear; got {type(layer).__name__}"
            )
        if not isinstance(layer, nn.Linear) and (
            layer.padding_mode != "zeros" or isinstance(layer.padding, str)
        ):
            raise ValueError(f"{type(layer).__name__}: only numeric zero padding is quantized")
        self.layer = copy.deepcopy(layer)
        self.bn = None if bn is None else copy.deepcopy(bn)
        self.config = config

    def _layer_op(self, x: Tensor, w: Tensor) -> Tensor:
        layer = self.layer
        if isinstance(layer, nn.Linear):
            return F.linear(x, w)
        conv = F.conv1d if isinstance(layer, nn.Conv1d) else F.conv2d
        return conv(x, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)

    def _channel_shape(self, dims: int) -> tuple[int, ...]:
        return (-1,) + (1,) * (dims - 1)

    def folded(self, x: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(weight, bias) in float64 with the BatchNorm folded: batch statistics of the
        float layer on ``x`` in training, running statistics otherwise."""
        w = self.layer.weight.double()
        b = None if self.layer.bias is None else self.layer.bias.double()
        bn = self.bn
        if bn is None:
            return w, b
        if self.training and x is not None:
            # BN(y + b) with batch statistics: the layer's own bias b cancels
            y = self._layer_op(x, w)
            dims = [0, *range(2, y.dim())]
            mean, var = y.mean(dims), y.var(dims, unbiased=False)
            with torch.no_grad():
                n = y.numel() / y.shape[1]
                seen = mean if b is None else mean + b
                bn.running_mean.mul_(1 - bn.momentum).add_(bn.momentum * seen.float())
                unbiased = var * n / max(n - 1, 1)
                bn.running_var.mul_(1 - bn.momentum).add_(bn.momentum * unbiased.float())
        else:
            mean, var = bn.running_mean.double(), bn.running_var.double()
            if b is not None:
                mean = mean - b
        scale = bn.weight.double() / torch.sqrt(var + bn.eps)
        return w * scale.reshape(self._channel_shape(w.dim())), bn.bias.double() - mean * scale

    def _quantized_weight(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """(q, e) of float weights ``w``: integers and per-channel exponents (w ≈ q · 2^-e)."""
        e = weight_exponents(w, self.config)
        qmax = 2 ** (self.config.weight_bits - 1) - 1
        scale = torch.pow(2.0, e.double()).reshape(self._channel_shape(w.dim()))
        q = torch.round(w.detach().double() * scale).clamp(-qmax, qmax)
        return q, scale

    def integer_weight(self) -> tuple[Tensor, Tensor]:
        """(q, e): the integer weights and each output channel's exponent (w = q · 2^-e),
        with the running statistics folded in."""
        w, _ = self.folded()
        q, _ = self._quantized_weight(w)
        return q.to(torch.int64), weight_exponents(w, self.config)

    def integer_bias(self) -> Tensor:
        """The bias in membrane units (2^-F), or zeros."""
        _, b = self.folded()
        if b is None:
            return torch.zeros(self.layer.weight.shape[0], dtype=torch.int64)
        return torch.round(b.detach() * 2.0**self.config.v_frac_bits).to(torch.int64)

    def forward(self, x: Tensor) -> Tensor:
        c = self.config
        x = x.double()
        x = _ste(x, torch.round(x * 2.0**c.input_frac_bits) / 2.0**c.input_frac_bits)
        w, b = self.folded(x)
        q, scale = self._quantized_weight(w)
        y = self._layer_op(x, _ste(w, q / scale))
        grid = 2.0**c.v_frac_bits
        y = _ste(y, torch.floor(y * grid) / grid)
        if b is not None:
            b = _ste(b, torch.round(b * grid) / grid)
            y = y + b.reshape(self._channel_shape(y.dim() - 1)) if y.dim() > 2 else y + b
        return y


class QuantLIF(Neuron):
    """IF / LIF in fixed point (module docstring): units of 2^-F, B signed bits, leak
    ``(d · m) >> L``. ``tau=None`` is IF. Input is the current of a :class:`QuantSynapse`."""

    options = Neuron.options | {"tau", "v_threshold", "v_reset", "decay_input", "config"}

    def __init__(
        self,
        *,
        tau: float | None,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        config: QuantConfig,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.config = config
        self.tau = None if tau is None else float(tau)
        self.decay_input = bool(decay_input)
        grid = 2.0**config.v_frac_bits
        self.v_threshold_units = int(round(v_threshold * grid))
        self.v_reset_units = None if v_reset is None else int(round(v_reset * grid))
        if self.v_threshold_units <= 0:
            raise ValueError(
                f"v_threshold {v_threshold} rounds to {self.v_threshold_units} units of 2^-"
                f"{config.v_frac_bits}: use more fractional bits"
            )
        self.leak_multiplier = None if tau is None else int(round(2**config.leak_frac_bits / tau))
        self.v_limits = (-(2 ** (config.v_bits - 1)), 2 ** (config.v_bits - 1) - 1)

    @classmethod
    def from_neuron(cls, neuron: nn.Module, config: QuantConfig) -> QuantLIF:
        """The fixed-point twin of an IF, LIF or PLIF (PLIF with its current tau, now fixed)."""
        tau = None if isinstance(neuron, IF) else float(neuron.tau)
        return cls(
            tau=tau, v_threshold=neuron.v_threshold, v_reset=neuron.v_reset,
            decay_input=getattr(neuron, "decay_input", True), config=config,
            surrogate=neuron.surrogate,
        )  # fmt: skip

    @property
    def rest_units(self) -> int:
        return 0 if self.v_reset_units is None else self.v_reset_units

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, float(self.rest_units), dtype=torch.float64)

    def _charge(self, v: Tensor, x: Tensor) -> Tensor:
        """H in units from V and X (units), with the floors of the integer twin."""
        if self.leak_multiplier is None:
            return v + x
        m, scale = self.leak_multiplier, 2.0**self.config.leak_frac_bits
        rest = float(self.rest_units)
        d = (x - (v - rest)) if self.decay_input else (v - rest)
        leak = d * m / scale
        leak = _ste(leak, torch.floor(leak))
        return v + leak if self.decay_input else v - leak + x

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        grid = 2.0**self.config.v_frac_bits
        units = x.double() * grid
        v = self.init_state(units[0]) if state is None else state
        lo, hi = self.v_limits
        vth = float(self.v_threshold_units)
        spikes = []
        for x_t in units:
            h = self._charge(v, x_t)
            h = _ste(h, h.clamp(lo, hi))
            s = self.surrogate((h - vth) / grid) if torch.is_grad_enabled() else heaviside(h - vth)
            if self.v_reset_units is None:
                v = h - s * vth
            else:
                v = h * (1 - s) + s * float(self.v_reset_units)
            spikes.append(s)
        out = torch.stack(spikes).to(torch.get_default_dtype())
        return out, v

    def _extra_parts(self) -> list[str]:
        kind = "IF" if self.tau is None else f"tau={self.tau}"
        return [kind, f"config={self.config}", f"v_threshold_units={self.v_threshold_units}"]


def quantize(model: nn.Module, config: QuantConfig | str) -> nn.Module:
    """A copy of ``model`` with every Conv1d/Conv2d/Linear a :class:`QuantSynapse`
    (BatchNorm after it in an ``nn.Sequential`` folded in) and every IF/LIF/PLIF a
    :class:`QuantLIF`. ``model`` itself is not changed. Average pooling (fractional
    values), other neurons and BatchNorm that does not follow a conv raise."""
    if isinstance(config, str):
        config = QuantConfig.parse(config)
    qmodel = copy.deepcopy(model)
    _fold_and_replace(qmodel, config, prefix="")
    return qmodel


def _inner(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, TimeDistributed) else module


def _fold_and_replace(parent: nn.Module, config: QuantConfig, prefix: str) -> None:
    children = list(parent.named_children())
    folded: set[str] = set()
    for i, (name, child) in enumerate(children):
        full = f"{prefix}{name}"
        inner = _inner(child)
        if name in folded:
            continue
        if isinstance(inner, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            bn = None
            if isinstance(parent, nn.Sequential) and i + 1 < len(children):
                nxt_name, nxt = children[i + 1]
                if isinstance(_inner(nxt), (nn.BatchNorm1d, nn.BatchNorm2d)):
                    bn = _inner(nxt)
                    setattr(parent, nxt_name, nn.Identity())
                    folded.add(nxt_name)
            synapse = QuantSynapse(inner, config, bn)
            if isinstance(child, TimeDistributed):
                child.module = synapse
            else:
                setattr(parent, name, synapse)
        elif isinstance(inner, (nn.BatchNorm1d, nn.BatchNorm2d)):
            raise ValueError(
                f"{full} (BatchNorm) does not follow a conv or linear layer to fold into"
            )
        elif isinstance(inner, (IF, LIF, PLIF)) and not getattr(inner, "reset_delay", False):
            setattr(parent, name, QuantLIF.from_neuron(inner, config))
        elif isinstance(inner, Neuron):
            raise ValueError(
                f"{full} ({type(inner).__name__}) has no fixed-point form here (IF, LIF, PLIF "
                "do, with the immediate reset)"
            )
        elif not isinstance(child, TimeDistributed):
            _fold_and_replace(child, config, f"{full}.")
