"""The model registry: every architecture is a small factory found by name.

A factory takes the input shape (C, H, W) and the number of classes, then the
architecture's own keyword arguments (params.yaml's `model_args`).
"""

from __future__ import annotations

import inspect
from typing import Callable

from torch import nn

from reprozoo.config.errors import ReprozooError

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Add a factory to the registry under its function name."""
    MODELS[fn.__name__] = fn
    return fn


def check_model(name: str, model_args: dict) -> None:
    """A one-line error for a name the registry does not know or an argument its factory does not take."""
    if name not in MODELS:
        raise ReprozooError(f"model {name!r} is unknown; registered: {', '.join(sorted(MODELS))}")
    accepted = [p for p in inspect.signature(MODELS[name]).parameters if p not in ("input_shape", "num_classes")]
    unknown = sorted(set(model_args) - set(accepted))
    if unknown:
        raise ReprozooError(f"model_args.{unknown[0]}: not an argument of model {name!r}; "
                            f"allowed: {', '.join(accepted) or 'none'}")


def create_model(name: str, input_shape: tuple[int, ...], num_classes: int, **model_args) -> nn.Module:
    """Build a registered model; an unknown name or argument is a one-line error."""
    check_model(name, model_args)
    return MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, **model_args)
