"""Optimizers by name, as params.yaml spells them."""

from __future__ import annotations

import torch

from reprozoo.config.errors import ReprozooError

OPTIMIZERS = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad,
    "adamax": torch.optim.Adamax, "asgd": torch.optim.ASGD, "lbfgs": torch.optim.LBFGS,
    "rmsprop": torch.optim.RMSprop, "rprop": torch.optim.Rprop,
}

# Optimizers with a fused CUDA kernel: one launch for all parameters instead of several per tensor.
# On the CPU torch defaults them to a per-tensor loop; its multi-tensor (foreach) form does the
# same arithmetic in the same order, bit for bit, in fewer calls.
FUSED_ON_CUDA = ("sgd", "adam")


def make_optimizer(name: str, parameters, lr: float, extra: dict) -> torch.optim.Optimizer:
    """A torch optimizer by name (fused on CUDA, foreach on the CPU); bad extra keywords are a one-line error."""
    parameters = [p for p in parameters if p.requires_grad]
    if name in FUSED_ON_CUDA and parameters:
        extra = {("fused" if all(p.is_cuda for p in parameters) else "foreach"): True, **extra}
    try:
        return OPTIMIZERS[name](parameters, lr=lr, **extra)
    except TypeError as err:
        raise ReprozooError(f"optimizer_args: {err} (optimizer {name!r})") from None
