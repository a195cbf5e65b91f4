"""Training held to the hardware: a model's FLOP per training sample, and the machine's matmul peak.

Used by `make bench` (reprozoo.perf.bench): a run's achieved GFLOP/s is its samples/s times the counted FLOP
per sample, and its roofline fraction that over the peak measured in the same bench run.
"""

from __future__ import annotations

import time

import torch


def flop_per_sample(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOP of one training step's forward and backward, per sample, counted by torch on a CPU copy.

    Counted on torch's own modules: tanh_rnn's in-place products and oneDNN's fused LSTM are invisible
    to the counter, so both are switched off while counting (the arithmetic is the same). The counter
    sees matrix products and convolutions, which is where nearly all of it is.
    """
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    from reprozoo.models import tanh_rnn

    counted = copy.deepcopy(model).cpu().float().train()
    enabled, tanh_rnn.ENABLED = tanh_rnn.ENABLED, False
    try:
        with (torch.random.fork_rng(devices=[]), torch.backends.mkldnn.flags(enabled=False),
              FlopCounterMode(display=False) as counter):  # fork_rng: dropout here draws no training's numbers
            loss_fn(counted(x.cpu()), y.cpu()).backward()
    finally:
        tanh_rnn.ENABLED = enabled
    return counter.get_total_flops() / len(y)


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32) -> dict:
    """The best GFLOP/s of square matrix products on this device, the roof the training runs are held to."""
    sizes = (512, 1024, 2048) if device.type == "cpu" else (4096, 8192)
    best = {}
    for n in sizes:
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        fastest = float("inf")
        for i in range(6):  # the first two warm up the BLAS and caches
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 2:
                fastest = min(fastest, time.perf_counter() - start)
        best[n] = 2 * n ** 3 / fastest / 1e9
    n = max(best, key=best.get)
    return {"peak_gflops": round(best[n], 1), "peak_size": n, "peak_dtype": str(dtype).removeprefix("torch."),
            "gflops_by_size": {k: round(v, 1) for k, v in best.items()}}


def run_peak(device_name: str, options: dict) -> dict:
    """matmul_peak in a process set up as the training runs are (threads, determinism, device)."""
    from reprozoo.training.runtime import configure

    device = configure(device_name, options.get("threads") or 2, deterministic=options.get("deterministic", True))
    dtype = torch.bfloat16 if options.get("amp") and device.type == "cuda" else torch.float32
    return {"path": "peak", "device": str(device), **matmul_peak(device, dtype)}
