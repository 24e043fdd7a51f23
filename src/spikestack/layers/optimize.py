"""``spikestack.optimize(model, example_input)``: an equivalent model that runs faster here.

What it tries, each kept only where it pays on this device for this input (timed on
``example_input``, one step = forward + backward in training, forward in inference):

- **fused backends**: neurons set to ``backend="torch"`` go to ``"auto"`` (the fused
  kernel for the tensor's device and dtype, the reference otherwise);
- **inference**: eval-mode BatchNorm folded into the conv or linear layer before it
  (:func:`~spikestack.layers.fold.fold_batchnorms`);
- **channels-last** conv weights (the activations follow; spikestack's neurons keep any
  layout without copying);
- **fast kernels** in training: :class:`~spikestack.layers.FastBatchNorm2d` (2x torch's
  forward+backward on channels-last activations) and
  :class:`~spikestack.layers.FastMaxPool2d` (2.2x), numba kernels that equal torch's
  results; and on top, **BN in neuron**: a BatchNorm that ends a TimeDistributed block
  before an IF/LIF/PLIF applied inside the neuron's kernel
  (:func:`~spikestack.layers.bn_neuron.fuse_batchnorm_neurons`: one write and read of
  the activations less; the same values);
- **event-driven** synaptic layers at inference on the CPU
  (:class:`~spikestack.layers.EventDriven`, ``auto``: each layer measures where sparse
  accumulation beats the dense product on its input and picks per call);
- **torch.compile** of the stateless per-step blocks (``TimeDistributed`` contents,
  compiled in place so parameter names stay): tried by default on CUDA only — on 2 CPU
  cores it compiled in ~16 s and made ``benchmarks/train_step.py`` slower (269 against
  293 samples/s); ``compile=True`` tries it anywhere.

Training mode keeps the structure and parameter names (checkpoints and optimisers stay
valid); inference mode may remove BatchNorm layers and wrap synaptic layers. The result is checked in float64
against the original (outputs, and in training the parameters' gradients) unless
``check=False``. ``model.optimize_report`` says what was chosen and the timings.
"""

from __future__ import annotations

import copy
import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from spikestack.kernels.bench import timed_rounds
from spikestack.layers.bn_neuron import fusable, fuse_batchnorm_neurons
from spikestack.layers.event_driven import wrap_event_driven
from spikestack.layers.fold import fold_batchnorms
from spikestack.layers.norm import fast_batchnorm
from spikestack.layers.pool import fast_maxpool
from spikestack.layers.time_distributed import TimeDistributed
from spikestack.neurons.base import Neuron

__all__ = ["OptimizeReport", "optimize"]

Choice = bool | str
_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d)
_FAST_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool2d)
_DROP = 1.15  # a candidate this much slower than the best after two rounds is not timed on
_TOLERANCE = 1e-6  # float64: reordered sums differ by ~1e-14; a flipped spike by far more


@dataclass
class OptimizeReport:
    """What :func:`optimize` did: the candidates' median step times and the choice."""

    mode: str
    device: str
    changes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    chosen: str = "as given"
    max_difference: float | None = None  # float64 check, relative to the largest value

    def __str__(self) -> str:
        lines = [f"optimize ({self.mode}, {self.device}): {self.chosen}"]
        base = self.timings_ms.get("as given")
        for name, ms in self.timings_ms.items():
            ratio = f"  {base / ms:5.2f}x" if base else ""
            lines.append(f"  {name:44} {ms:9.2f} ms{ratio}")
        lines += [f"  - {change}" for change in self.changes]
        if self.max_difference is not None:
            lines.append(f"  float64 check: largest relative difference {self.max_difference:.1e}")
        return "\n".join(lines)


def _check_choice(name: str, value: Choice) -> None:
    if value not in (True, False, "auto"):
        raise ValueError(f"optimize: {name} must be True, False or 'auto'; got {value!r}")


def _has(model: nn.Module, kinds: tuple[type, ...]) -> bool:
    return any(isinstance(m, kinds) for m in model.modules())


def _channels_last(model: nn.Module) -> nn.Module:
    return model.to(memory_format=torch.channels_last)


def _fast_kernels(model: nn.Module) -> nn.Module:
    fast_batchnorm(model)
    fast_maxpool(model)
    return model


def _bn_in_neurons(model: nn.Module) -> nn.Module:
    fuse_batchnorm_neurons(model)
    return model


def _event_driven(model: nn.Module) -> nn.Module:
    wrap_event_driven(model, "auto")
    return model


def _compile(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, TimeDistributed):
            m.module.compile()
    return model


def _scalar(out: Any) -> Tensor:
    """A scalar to backpropagate from a model's output (tensor, or a tuple/dict of them)."""
    return sum(t.sum() for t in _flatten(out))


def _step(model: nn.Module, x: Tensor, training: bool) -> Callable[[], object]:
    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        _scalar(model(x)).backward()

    def infer_step() -> None:
        with torch.inference_mode():
            model(x)

    return train_step if training else infer_step


def _results(model: nn.Module, x: Tensor, grads: bool) -> list[Tensor]:
    """Flat outputs, and with ``grads`` the gradients of the parameters (in name order)."""
    if not grads:
        with torch.no_grad():
            return _flatten(model(x))
    model.zero_grad(set_to_none=True)
    out = model(x)
    _scalar(out).backward()
    grads = [
        p.grad if p.grad is not None else torch.zeros_like(p)
        for _, p in sorted(model.named_parameters())
    ]
    return [t.detach() for t in _flatten(out)] + grads


def _seeded_results(model: nn.Module, x: Tensor, grads: bool) -> list[Tensor]:
    """:func:`_results` with the random number generators seeded alike for every model
    (dropout masks, stochastic layers), leaving the caller's generators as they were."""
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        return _results(model, x, grads)


def _flatten(out: Any) -> list[Tensor]:
    """The tensors of a model's output (a tensor, or nested tuples/lists/dicts of them)."""
    if isinstance(out, Tensor):
        return [out]
    if not isinstance(out, (tuple, list, dict)):
        return []
    leaves = out.values() if isinstance(out, dict) else out
    return list(itertools.chain.from_iterable(_flatten(v) for v in leaves))


def _difference(
    reference: nn.Module, candidate: nn.Module, x: Tensor, training: bool, grads: bool
) -> float:
    """Largest difference between the two models' results in float64, each relative to
    the largest magnitude of that result, with a floor of 1e-6 of the largest magnitude
    of all (a gradient that is zero up to rounding, such as a conv bias before a
    BatchNorm, is compared at the scale of the others). ``candidate`` is a throwaway copy
    and is made float64 in place; ``reference`` is copied, as it may be compared again."""
    ref = copy.deepcopy(reference).double().train(training)
    cand = candidate.double().train(training)
    x64 = x.double() if x.is_floating_point() else x
    pairs = [
        (a, b)
        for a, b in zip(*(_seeded_results(m, x64, grads) for m in (ref, cand)), strict=True)
        if a.numel()
    ]
    top = max((float(a.abs().max()) for a, _ in pairs), default=0.0)
    worst = 0.0
    for a, b in pairs:
        scale = max(float(a.abs().max()), 1e-6 * top, 1e-300)
        worst = max(worst, float((a - b).abs().max()) / scale)
    return worst


def _options(
    target: nn.Module,
    training: bool,
    device: torch.device,
    channels_last: Choice,
    fast_kernels: Choice,
    bn_in_neuron: Choice,
    compile: Choice,
    event_driven: Choice,
) -> dict[str, list[Callable[[nn.Module], object]]]:
    """The candidates to time: a name and the changes it applies, in order."""
    options: dict[str, list[Callable[[nn.Module], object]]] = {"as given": []}
    has_conv2d = _has(target, (nn.Conv2d,))
    if channels_last is not False and has_conv2d:
        options["channels-last"] = [_channels_last]
    if training and fast_kernels is not False and device.type == "cpu":
        # the kernels take channels-innermost activations: BatchNorm1d's [N, C], or
        # 4-D ones once channels-last (contiguous NCHW stays on torch's kernels)
        if _has(target, (nn.BatchNorm1d,)):
            options["fast kernels"] = [_fast_kernels]
        if "channels-last" in options and _has(target, _FAST_LAYERS):
            options["channels-last + fast kernels"] = [_channels_last, _fast_kernels]
        if bn_in_neuron is not False and fusable(target):  # BN's work inside the neuron
            for name in [n for n in options if "fast kernels" in n]:
                options[f"{name} + BN in neuron"] = options[name] + [_bn_in_neurons]
    if not training and event_driven is not False and device.type == "cpu":
        if _has(target, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            for name in list(options):
                key = "event-driven" if name == "as given" else f"{name} + event-driven"
                options[key] = options[name] + [_event_driven]
    forced = [
        name
        for name, on in (
            ("channels-last", channels_last),
            ("fast kernels", fast_kernels),
            ("BN in neuron", bn_in_neuron),
            ("event-driven", event_driven),
        )
        if on is True
    ]
    if forced:  # a forced choice is in every candidate
        options = {n: f for n, f in options.items() if all(k in n for k in forced)} or options
    if compile is True or (compile == "auto" and device.type == "cuda"):
        for name in list(options):
            options[f"{name} + torch.compile"] = options[name] + [_compile]
    return options


def optimize(
    model: nn.Module,
    example_input: Tensor,
    *,
    training: bool | None = None,
    channels_last: Choice = "auto",
    fast_kernels: Choice = "auto",
    bn_in_neuron: Choice = "auto",
    compile: Choice = "auto",
    event_driven: Choice = "auto",
    fold_bn: bool = True,
    fused_backends: bool = True,
    check: bool = True,
    inplace: bool = False,
    repeats: int = 5,
    check_input: Tensor | None = None,
) -> nn.Module:
    """An equivalent model that runs faster on ``example_input``'s device (see the module
    docstring). ``training`` (default: ``model.training``) says which mode to optimise;
    each ``Choice`` is True (always), False (never) or "auto" (timed, kept if faster).
    ``inplace=True`` changes ``model`` itself (its parameter objects are kept, so an
    optimiser built on them stays valid), else a copy is returned. ``check_input`` (default
    ``example_input``) is what the float64 check runs on: a few samples of the batch check
    the same arithmetic at a fraction of the cost."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"optimize takes an nn.Module; got {type(model).__name__}")
    if not isinstance(example_input, Tensor):
        raise TypeError(
            f"optimize needs an example input tensor; got {type(example_input).__name__}"
        )
    for name, value in (
        ("channels_last", channels_last),
        ("fast_kernels", fast_kernels),
        ("bn_in_neuron", bn_in_neuron),
        ("compile", compile),
        ("event_driven", event_driven),
    ):
        _check_choice(name, value)
    if check_input is not None and not isinstance(check_input, Tensor):
        raise TypeError(f"optimize: check_input must be a tensor; got {type(check_input).__name__}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"optimize: repeats must be a positive int; got {repeats!r}")
    param = next(model.parameters(), None)
    if param is not None and param.device != example_input.device:
        raise ValueError(
            f"optimize: the model is on {param.device} but example_input on "
            f"{example_input.device}; move them to the device they will run on"
        )
    training = model.training if training is None else bool(training)
    device = example_input.device
    report = OptimizeReport("training" if training else "inference", str(device))
    target = model if inplace else copy.deepcopy(model)
    original = copy.deepcopy(model) if check else None
    target.train(training)

    if fused_backends:
        moved = [
            m
            for m in target.modules()
            if isinstance(m, Neuron) and getattr(m, "backend", None) == "torch"
        ]
        for m in moved:
            m.backend = "auto"
        if moved:
            report.changes.append(f"{len(moved)} neuron(s): backend 'torch' -> 'auto' (fused)")
    if fold_bn and not training:
        folded = fold_batchnorms(target)
        if folded:
            report.changes.append(f"{folded} BatchNorm layer(s) folded into the layer before")

    options = _options(
        target, training, device, channels_last, fast_kernels, bn_in_neuron, compile, event_driven
    )

    report.chosen = _fastest(target, options, example_input, training, repeats, report)
    steps = options[report.chosen]
    if original is not None:
        checked_on = example_input if check_input is None else check_input
        _verify(original.train(training), target, steps, checked_on, training, report)
    for apply in steps:
        apply(target)
    target.optimize_report = report
    return target


def _fastest(
    target: nn.Module,
    options: dict[str, list[Callable[[nn.Module], object]]],
    x: Tensor,
    training: bool,
    repeats: int,
    report: OptimizeReport,
) -> str:
    """The name of the fastest option, each timed on its own copy of ``target``
    (round-robin, median of ``repeats`` steps, or of two for a candidate dropped early);
    the timings go into ``report``."""
    if len(options) == 1:
        return next(iter(options))
    fns = {}
    for name, steps in options.items():
        candidate = copy.deepcopy(target)
        for apply in steps:
            apply(candidate)
        fns[name] = _step(candidate, x, training)
        try:
            fns[name]()
        except Exception as error:  # a compile that fails is a candidate lost, not an error
            if _compile not in steps:
                raise
            report.changes.append(f"{name} failed ({type(error).__name__}: {error}); not used")
            del fns[name]
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in fns}
    # each candidate has just run once (its warm-up); after two rounds, those more than
    # _DROP times slower than the fastest so far are out and the rest run the other rounds
    timed_rounds(fns, min(2, repeats), times, sync)
    best = min(min(t) for t in times.values())
    left = {name: fn for name, fn in fns.items() if min(times[name]) <= _DROP * best}
    timed_rounds(left, repeats - min(2, repeats), times, sync)
    report.timings_ms = {name: statistics.median(t) for name, t in times.items()}
    return min(left, key=report.timings_ms.__getitem__)


def _verify(
    original: nn.Module,
    target: nn.Module,
    steps: list[Callable[[nn.Module], object]],
    x: Tensor,
    training: bool,
    report: OptimizeReport,
) -> None:
    """Compare the optimised model with the original in float64 (before compiling: a
    compiled block would recompile for float64); raise if they differ."""

    def variant(skip: tuple[Callable[[nn.Module], object], ...]) -> nn.Module:
        model = copy.deepcopy(target)
        for apply in steps:
            if apply not in skip:
                apply(model)
        return model

    checked = variant((_compile,))
    # torch's own channels-last max pooling breaks ties differently (FastMaxPool2d does not)
    ties = (
        training
        and _channels_last in steps
        and any(type(m) in _MAX_POOLS for m in checked.modules())
    )
    worst = _difference(original, checked, x, training, grads=training and not ties)
    if ties:
        without = variant((_compile, _channels_last))
        worst = max(worst, _difference(original, without, x, training, grads=True))
        report.changes.append(
            "gradients checked without channels-last: max pooling of spikes has ties, which "
            "torch's channels-last kernel gives to another input of the window (both valid)"
        )
    report.max_difference = worst
    if worst > _TOLERANCE:
        raise RuntimeError(
            f"optimize: the optimised model ({report.chosen}) differs from the original by "
            f"{worst:.2e} (relative, float64) on example_input; please report it; "
            "check=False skips this check"
        )
