"""The base of every zoo model: a declared input layout, ``T`` steps, per-step or mean output.

A model computes per-step outputs from a time-major sequence in
:meth:`SpikingModel.forward_sequence` (``[T, B, ...] -> [T, B, ...]``); :meth:`forward`
brings the input to that form and reduces the output. What the input is comes from the
model's ``input_layout``, never from its number of dimensions:

- ``"static"``: one sample per batch element, ``[B, C, H, W]``, repeated over ``T`` steps
  inside the model (direct encoding: the first layer sees the analog sample every step);
- ``"sequence"``: a time-major ``[T, B, C, H, W]`` input (event frames, video frames,
  encoded spikes). It keeps its own number of steps; ``T`` then only serves the neurons
  that need the step count (the PSN family).

``mean_output=True`` returns the mean over time ``[B, ...]``, ``False`` the per-step
``[T, B, ...]`` (for TET-style losses, temporal decoders, per-step analysis).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from spikestack.validation import check_int

__all__ = ["INPUT_LAYOUTS", "SpikingModel", "check_input_layout"]

INPUT_LAYOUTS = ("static", "sequence")


def check_input_layout(input_layout: object) -> str:
    if input_layout not in INPUT_LAYOUTS:
        raise ValueError(
            f"input_layout must be 'static' ([B, ...], repeated over T steps) or 'sequence' "
            f"([T, B, ...]); got {input_layout!r}"
        )
    return str(input_layout)


class SpikingModel(nn.Module):
    """Base of the zoo: ``forward`` takes the declared ``input_layout`` (see the module
    docstring); subclasses implement ``forward_sequence`` on ``[T, B, ...]``.

    ``sample_dims`` names the dimensions of one sample after the batch dimension
    (``("C", "H", "W")`` for images); ``None`` accepts any number (models that flatten).
    """

    sample_dims: ClassVar[tuple[str, ...] | None] = ("C", "H", "W")

    def __init__(self, *, T: int, input_layout: str, mean_output: bool) -> None:
        super().__init__()
        self.T = check_int("T", T)
        self.input_layout = check_input_layout(input_layout)
        self.mean_output = bool(mean_output)
        # named in input errors; create_model replaces it with the registered name
        self.model_name = type(self).__name__

    def forward_sequence(self, x: Tensor) -> Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        y = self.forward_sequence(self.as_sequence(x))
        return y.mean(0) if self.mean_output else y

    def as_sequence(self, x: Tensor) -> Tensor:
        """``x`` as ``[T, B, ...]``: a static sample repeated over ``T``, a sequence as is."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if not self._fits(x, self.input_layout):
            raise ValueError(self._layout_error(x))
        if self.input_layout == "static":
            return x.unsqueeze(0).repeat(self.T, *([1] * x.dim()))
        return x

    def expected_shape(self, input_layout: str) -> str:
        sample = "..." if self.sample_dims is None else ", ".join(self.sample_dims)
        return f"[B, {sample}]" if input_layout == "static" else f"[T, B, {sample}]"

    def _fits(self, x: Tensor, input_layout: str) -> bool:
        leading = 1 if input_layout == "static" else 2
        if self.sample_dims is None:
            return x.dim() > leading
        return x.dim() == leading + len(self.sample_dims)

    def _layout_error(self, x: Tensor) -> str:
        layout = self.input_layout
        other = "sequence" if layout == "static" else "static"
        repeated = f" (repeated over T={self.T} steps)" if layout == "static" else ""
        what = "a time-major sequence" if other == "sequence" else "a static sample"
        return (
            f"{self.model_name} has input_layout={layout!r}: x must be "
            f"{self.expected_shape(layout)}{repeated}; got shape {tuple(x.shape)}. "
            f"For {what} {self.expected_shape(other)}, build the model with "
            f"input_layout={other!r}"
        )
