"""The integer twin of a quantized chain: int64 tensors only, the same spikes and outputs.

:class:`IntegerNetwork` takes a network made by :func:`spikestack.deploy.quantize.quantize`
whose body is a chain of layers and runs it as a fixed-point chip would: a synaptic layer
multiplies integer activations by its integer weights (an integer matrix product over the
unfolded input) and shifts the sum onto the membrane grid 2^-F per output channel; a
neuron adds, leaks by ``(d · m) >> L``, saturates to B bits and compares with its integer
threshold. Activations travel as ``(integers, fractional bits)``: an analog input as
round(x · 2^Fi), spikes as 0/1. Max pooling of 0/1 spikes and flattening only move values.
:func:`export_integer` writes the integers to a ``.npz`` (layout in docs/deploy.md).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from spikestack.atomic import atomic_write
from spikestack.deploy._chain import layer_chain
from spikestack.deploy.quantize import QuantLIF, QuantSynapse
from spikestack.layers import Flatten, TimeDistributed


def _conv_int(x: Tensor, q: Tensor, layer: nn.Module) -> Tensor:
    """An integer convolution: unfold (moves values only) and an int64 matrix product."""
    if layer.groups != 1:
        raise ValueError(
            f"integer inference of grouped convolutions (groups={layer.groups}) is not supported"
        )
    one_d = isinstance(layer, nn.Conv1d)
    if one_d:
        x, q = x.unsqueeze(-2), q.unsqueeze(-2)
    kernel = q.shape[2:]
    stride = (1, layer.stride[0]) if one_d else layer.stride
    padding = (0, layer.padding[0]) if one_d else layer.padding
    dilation = (1, layer.dilation[0]) if one_d else layer.dilation
    cols = F.unfold(x.double(), kernel, dilation=dilation, padding=padding, stride=stride)
    out = q.reshape(q.shape[0], -1) @ cols.to(torch.int64)  # [N, C_out, L]
    h = (x.shape[-2] + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    w = (x.shape[-1] + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out = out.reshape(out.shape[0], out.shape[1], h, w)
    return out.squeeze(-2) if one_d else out


def _to_grid(acc: Tensor, shift: Tensor, channel_dim: int) -> Tensor:
    """acc · 2^shift per output channel, floored when the shift is negative (integers only)."""
    shape = [1] * acc.dim()
    shape[channel_dim] = -1
    shift = shift.reshape(shape)
    up = acc * torch.pow(2, shift.clamp(min=0))
    return torch.div(up, torch.pow(2, (-shift).clamp(min=0)), rounding_mode="floor")


class IntegerNetwork:
    """Run a quantized chain in integers; ``__call__(x)`` takes what the float model takes
    (``[T, B, ...]``) and returns the last layer's output in membrane units of 2^-F."""

    def __init__(self, qmodel: nn.Module) -> None:
        self.layers = layer_chain(qmodel, what="integer inference runs")
        configs = {m.config for _, m in self.layers if isinstance(m, QuantLIF)}
        configs |= {
            m.module.config
            for _, m in self.layers
            if isinstance(m, TimeDistributed) and isinstance(m.module, QuantSynapse)
        }
        if len(configs) != 1:
            raise ValueError(f"a quantized chain has one QuantConfig; found {len(configs)}")
        (self.config,) = configs
        for name, module in self.layers:
            inner = module.module if isinstance(module, TimeDistributed) else module
            if not isinstance(
                inner,
                (
                    QuantSynapse,
                    QuantLIF,
                    Flatten,
                    nn.MaxPool1d,
                    nn.MaxPool2d,
                    nn.AvgPool2d,
                    nn.AdaptiveAvgPool2d,
                    nn.Identity,
                    nn.Dropout,
                ),
            ):
                raise ValueError(f"{name} ({type(inner).__name__}) has no integer form here")

    def __call__(self, x: Tensor) -> Tensor:
        c = self.config
        value = torch.round(x.double() * 2.0**c.input_frac_bits).to(torch.int64)
        frac = c.input_frac_bits
        for _, module in self.layers:
            inner = module.module if isinstance(module, TimeDistributed) else module
            if isinstance(inner, QuantSynapse):
                value, frac = self._synapse(inner, value, frac), c.v_frac_bits
            elif isinstance(inner, QuantLIF):
                value, frac = self._neuron(inner, value, frac), 0
            elif isinstance(inner, Flatten):
                value = value.flatten(2)
            elif isinstance(inner, (nn.MaxPool1d, nn.MaxPool2d)):
                t, b = value.shape[:2]
                pooled = inner(value.flatten(0, 1).double())  # 0/1 or integers: exact
                value = pooled.to(torch.int64).unflatten(0, (t, b))
            elif isinstance(inner, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
                value, frac = self._sum_pool(inner, value, frac)
        return value

    @staticmethod
    def _sum_pool(pool: nn.Module, value: Tensor, frac: int) -> tuple[Tensor, int]:
        """Average pooling as a sum over a window of 2^a values with ``a`` more fraction bits."""
        h, w = value.shape[-2:]
        if isinstance(pool, nn.AdaptiveAvgPool2d):
            oh, ow = (
                (pool.output_size, pool.output_size)
                if isinstance(pool.output_size, int)
                else pool.output_size
            )
            oh, ow = oh or h, ow or w
            if h % oh or w % ow:
                raise ValueError(
                    f"adaptive average pooling {h}x{w} -> {oh}x{ow} has uneven windows"
                )
            area = (h // oh) * (w // ow)
        else:
            if (
                pool.ceil_mode
                or pool.padding not in (0, (0, 0))
                or pool.divisor_override not in (None, 1)
            ):
                raise ValueError("integer average pooling needs no padding, ceil_mode or divisor")
            k = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * 2
            area = 1 if pool.divisor_override == 1 else k[0] * k[1]
        bits = area.bit_length() - 1
        if area != 1 << bits:
            raise ValueError(
                f"average pooling over {area} values has no exact integer form (use a window "
                "of a power of two values, max pooling or sum pooling)"
            )
        t, b = value.shape[:2]
        summed = pool(value.flatten(0, 1).double()) * area  # integers: exact
        return summed.round().to(torch.int64).unflatten(0, (t, b)), frac + bits

    def _synapse(self, syn: QuantSynapse, value: Tensor, frac: int) -> Tensor:
        q, e = syn.integer_weight()
        t, b = value.shape[:2]
        flat = value.flatten(0, 1)
        if isinstance(syn.layer, nn.Linear):
            acc = flat @ q.T
            channel = acc.dim() - 1
        else:
            acc = _conv_int(flat, q, syn.layer)
            channel = 1
        out = _to_grid(acc, syn.config.v_frac_bits - frac - e, channel)
        bias = syn.integer_bias()
        shape = [1] * out.dim()
        shape[channel] = -1
        return (out + bias.reshape(shape)).unflatten(0, (t, b))

    def _neuron(self, n: QuantLIF, value: Tensor, frac: int) -> Tensor:
        x = value * 2 ** (n.config.v_frac_bits - frac)  # current in units (frac <= F)
        rest = n.rest_units
        v = torch.full_like(x[0], rest)
        lo, hi = n.v_limits
        spikes = []
        for x_t in x:
            if n.leak_multiplier is None:
                h = v + x_t
            else:
                d = (x_t - (v - rest)) if n.decay_input else (v - rest)
                leak = torch.div(
                    d * n.leak_multiplier, 2**n.config.leak_frac_bits, rounding_mode="floor"
                )
                h = v + leak if n.decay_input else v - leak + x_t
            h = h.clamp(lo, hi)
            s = (h >= n.v_threshold_units).to(torch.int64)
            v = (
                h - s * n.v_threshold_units
                if n.v_reset_units is None
                else torch.where(s.bool(), n.v_reset_units, h)
            )
            spikes.append(s)
        return torch.stack(spikes)


def export_integer(qmodel: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the integers of a quantized chain to ``path`` (``.npz``, atomically).

    Keys: ``manifest`` (JSON: the QuantConfig and, per layer in order, its kind and
    scalar parameters) and, for synaptic layer ``i``, ``{i}.weight`` (int64, the layer's
    weight shape), ``{i}.exponent`` (int64 per output channel: w = weight · 2^-exponent)
    and ``{i}.bias`` (int64, membrane units of 2^-F).
    """
    net = IntegerNetwork(qmodel)
    arrays: dict[str, np.ndarray] = {}
    manifest: dict[str, Any] = {"config": vars(net.config).copy(), "layers": []}
    for i, (name, module) in enumerate(net.layers):
        inner = module.module if isinstance(module, TimeDistributed) else module
        entry: dict[str, Any] = {"name": name, "kind": type(inner).__name__}
        if isinstance(inner, QuantSynapse):
            q, e = inner.integer_weight()
            arrays[f"{i}.weight"], arrays[f"{i}.exponent"] = q.numpy(), e.numpy()
            arrays[f"{i}.bias"] = inner.integer_bias().numpy()
            layer = inner.layer
            entry["layer"] = type(layer).__name__
            if not isinstance(layer, nn.Linear):
                entry.update(
                    stride=list(layer.stride),
                    padding=list(layer.padding),
                    dilation=list(layer.dilation),
                )
        elif isinstance(inner, QuantLIF):
            entry.update(
                leak_multiplier=inner.leak_multiplier, decay_input=inner.decay_input,
                v_threshold=inner.v_threshold_units, v_reset=inner.v_reset_units,
                v_limits=list(inner.v_limits),
            )  # fmt: skip
        elif isinstance(inner, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool2d)):
            entry.update(kernel_size=inner.kernel_size, stride=inner.stride, padding=inner.padding)
        elif isinstance(inner, nn.AdaptiveAvgPool2d):
            entry.update(output_size=inner.output_size)
        manifest["layers"].append(entry)
    arrays["manifest"] = np.array(json.dumps(manifest))

    def write(f: Any) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getvalue())

    return atomic_write(path, write)
