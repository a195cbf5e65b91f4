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


def spread_share(root, peak_gflops: float) -> list[dict]:
    """Each image-classifier spread's training held to the roof: FLOP counted per training sample, times the
    samples its seeds trained on (train split x epochs x seeds), over their summed `train_seconds` (which also
    hold each epoch's validation pass, not counted: a lower bound), over the matmul peak."""
    from reprozoo.data.files import read_json
    from reprozoo.data.split import load_split
    from reprozoo.harness.params import load_all
    from reprozoo.tasks.image_classifier import build
    from reprozoo.training.loop import LOSSES, as_input

    rows, params = [], load_all(root / "params.yaml")
    for name, entry in params.spread.experiments.items():
        if entry.kind != "image_classifier":  # the tiny kinds: a few hundred weights, latency-bound
            continue
        p = params.experiment(name)[1]
        split = load_split(root / "data" / "splits" / p.dataset, p.dataset)
        x, y = as_input(split.train["images"][:p.batch_size]), split.train["labels"][:p.batch_size]
        flop = flop_per_sample(build(p, split.manifest), LOSSES[p.loss], x, y)
        runs = read_json(root / "results" / "spread" / f"{name}.json", f"dvc repro spread@{name}")["runs"]
        seconds = sum(r["train_seconds"] for r in runs.values())
        samples = len(split.train["labels"]) * p.epochs * len(runs)
        gflops = flop * samples / seconds / 1e9
        rows.append({"experiment": name, "seeds": len(runs), "flop_per_sample": round(flop),
                     "train_seconds": round(seconds, 1), "gflops": round(gflops, 1),
                     "roofline_fraction": round(gflops / peak_gflops, 3)})
    return rows


def main() -> None:
    """python -m reprozoo.perf.roofline spread: the spread's training against this machine's matmul peak."""
    import json
    import sys

    from reprozoo import ROOT
    from reprozoo.config.errors import ReprozooError
    from reprozoo.config.params import load_params

    if sys.argv[1:] != ["spread"]:
        raise ReprozooError("usage: python -m reprozoo.perf.roofline spread")
    peak = run_peak("cpu", {"threads": load_params().runtime.threads})
    print(json.dumps({"matmul_peak": peak, "spread": spread_share(ROOT, peak["peak_gflops"])}, indent=2))


if __name__ == "__main__":
    from reprozoo.ledger.stage import run_main

    run_main(main)
