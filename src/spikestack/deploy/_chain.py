"""A network as the chain of its layers: what NIR export and integer inference walk."""

from __future__ import annotations

from torch import nn


def layer_chain(model: nn.Module, *, what: str) -> list[tuple[str, nn.Module]]:
    """The layers of ``model``'s body in order (qualified names; nested Sequentials opened).

    ``model`` is an ``nn.Sequential`` or a model whose ``body`` is one; anything else (a
    residual network) raises, with ``what`` saying which operation needed the chain.
    """
    body = model.body if isinstance(getattr(model, "body", None), nn.Sequential) else model
    if not isinstance(body, nn.Sequential):
        raise ValueError(
            f"{what} a chain of layers (an nn.Sequential, or a model whose body is one); "
            f"{type(model).__name__} is neither (residual networks are not handled yet)"
        )
    prefix = "body." if body is not model else ""
    out: list[tuple[str, nn.Module]] = []

    def walk(seq: nn.Sequential, base: str) -> None:
        for name, module in seq.named_children():
            if isinstance(module, nn.Sequential):
                walk(module, f"{base}{name}.")
            else:
                out.append((f"{base}{name}", module))

    walk(body, prefix)
    return out
