"""Training throughput: the project's training path against a seed-style loop, same model, same machine.

Run as `python -m reprozoo.perf.bench`: params.yaml's `tools.bench` experiments, or those named. Each
(experiment, path) pair runs in its own process so that peak memory is its own. Prints one JSON document.
The recipes come from params.yaml as every stage reads them (reprozoo.harness.params.load_experiment); on a bare
GPU machine .ci/gpu puts the carried wheelhouse (pydantic among it) on the path first.

The seed-style loop is what the seeds write: torchvision's MNIST (or CIFAR10) dataset class turning
each image into a PIL image and through ToTensor on every access, a DataLoader with shuffle, one
small batch per step moved to the device, torch's default optimizer and nn.RNN. The project's path
holds each split once on the device and slices batches, with its foreach/fused optimizers and, for
tanh RNNs on the CPU, reprozoo.models.tanh_rnn.

Against the hardware: each run also reports its achieved GFLOP/s (samples/s times the model's FLOP
per training sample, counted by torch's FLOP counter, not estimated) and `roofline_fraction`, that
over the peak of a large fp32 matrix product measured in the same bench run, in a process set up the
same way (threads, pinned instruction set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError


def load_recipe(name: str, params_path: Path):
    """An image classifier's params, typed, from params.yaml."""
    from reprozoo.harness.params import load_experiment

    _, task, p = load_experiment(name, params_path)
    if task.kind != "image_classifier":
        raise ReprozooError(f"{name}: a {task.kind} experiment; the bench times image classifiers only")
    return p


def load_data(dataset: str, splits: Path, synthetic: int) -> tuple[dict, dict, list[int], int]:
    """(train, test, image_shape, classes): the split tensors, or random CIFAR-shaped ones for speed runs."""
    if synthetic:
        g = torch.Generator().manual_seed(0)
        make = lambda n: {"images": torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                          "labels": torch.randint(0, 10, (n,), generator=g)}
        return make(synthetic), make(1000), [3, 32, 32], 10
    folder = splits / dataset
    if not (folder / "train.pt").exists():
        sys.exit(f"error: {folder}/train.pt missing; create it with: dvc repro split@{dataset}")
    manifest = json.loads((folder / "manifest.json").read_text())
    train = torch.load(folder / "train.pt", weights_only=True)
    test = torch.load(folder / "test.pt", weights_only=True)
    return train, test, manifest["image_shape"], len(manifest["classes"])


def seed_style_dataset(images: torch.Tensor, labels: torch.Tensor) -> torch.utils.data.Dataset:
    """The seeds' dataset: torchvision's own MNIST (1 channel) or CIFAR10 (3) class with ToTensor.

    Its __getitem__ runs exactly as in the seeds: index the stored array, make a PIL image, ToTensor.
    Only __init__'s reading of the files is skipped: the split is already in memory, held the way
    that class holds it (MNIST: a uint8 tensor and a label tensor; CIFAR10: an HWC array and a list).
    """
    from torchvision import datasets, transforms

    if images.shape[1] == 1:
        dataset = datasets.MNIST.__new__(datasets.MNIST)
        dataset.data, dataset.targets = images[:, 0].clone(), labels.clone()
    else:
        dataset = datasets.CIFAR10.__new__(datasets.CIFAR10)
        dataset.data, dataset.targets = images.permute(0, 2, 3, 1).numpy().copy(), labels.tolist()
    datasets.VisionDataset.__init__(dataset, root="", transform=transforms.ToTensor())
    return dataset


def seed_style_epochs(model, optimizer, loss_fn, train: dict, batch_size: int, epochs: int, device) -> None:
    """The seeds' loop: DataLoader over a per-sample Dataset, .to(device) each batch, .item() each step."""
    loader = torch.utils.data.DataLoader(seed_style_dataset(train["images"], train["labels"]),
                                         batch_size=batch_size, shuffle=True)
    for _ in range(epochs):
        model.train()
        running = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()


def run_one(name: str, path: str, epochs: int, device_name: str, splits: Path, params_path: Path,
            synthetic: int, options: dict) -> dict:
    """Train one experiment one way; return samples/s, test accuracy and peak memory."""
    from reprozoo.models import create_model, tanh_rnn
    from reprozoo.models.wrap import ImageClassifier
    from reprozoo.training.runtime import configure, seed_everything
    from reprozoo.training.optim import OPTIMIZERS, make_optimizer
    from reprozoo.training.loop import LOSSES, fit, predict

    p = load_recipe(name, params_path)
    epochs = epochs or p.epochs
    threads = options.get("threads") or 2
    device = configure(device_name, threads, deterministic=options.get("deterministic", True))
    train, test, shape, classes = load_data(p.dataset, splits, synthetic)
    generator = seed_everything(p.seed)
    net = create_model(p.model, tuple(shape), classes, **p.model_args)
    channels = shape[0]
    model = ImageClassifier(net, p.mean or [0.0] * channels, p.std or [1.0] * channels)
    model = model.to(device)
    loss_name = p.loss
    from reprozoo.perf.roofline import flop_per_sample
    from reprozoo.training.loop import as_input

    # Counted before any compile, on a copy, so training starts from the same weights and RNG state.
    flop = flop_per_sample(model, LOSSES[loss_name], as_input(train["images"][:p.batch_size]),
                           train["labels"][:p.batch_size])
    if options.get("channels_last") and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if options.get("compile") and path == "project":
        model = torch.compile(model)  # compiled in the untimed warm-up epoch
    if path == "project":
        optimizer = make_optimizer(p.optimizer, model.parameters(), p.lr, p.optimizer_args)
    else:  # as the seeds build it: torch's defaults
        optimizer = OPTIMIZERS[p.optimizer](model.parameters(), lr=p.lr, **p.optimizer_args)
    no_val = {"images": train["images"][:0], "labels": train["labels"][:0]}

    def train_epochs(n: int) -> None:
        if path == "project":
            fit(model, train, no_val, optimizer, loss_name, n, p.batch_size, generator, device,
                amp=options.get("amp", False), cuda_graphs=options.get("cuda_graphs", False))
        else:
            tanh_rnn.ENABLED = False  # the seeds call nn.RNN as torch ships it
            seed_style_epochs(model, optimizer, LOSSES[loss_name], train, p.batch_size, n, device)

    # Untimed warm-up epochs, the same for both paths: CUDA context, cuDNN plans, allocator, caches.
    if options.get("warmup", 1):
        train_epochs(options["warmup"])
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    train_epochs(epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    samples_per_s = len(train["labels"]) * epochs / seconds
    scores = predict(model, test["images"].to(device))
    accuracy = (scores.argmax(1).cpu() == test["labels"]).float().mean().item()
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"experiment": name, "path": path, "epochs": epochs, "warmup_epochs": options.get("warmup", 1),
            "train_samples": len(train["labels"]),
            "seconds": round(seconds, 3), "samples_per_s": round(samples_per_s, 1),
            "flop_per_sample": round(flop), "gflops": round(samples_per_s * flop / 1e9, 2),
            "test_accuracy": round(accuracy, 4), "peak_memory_mb": round(peak, 1),
            "peak_memory_kind": "cuda max allocated" if device.type == "cuda" else "process max RSS",
            "device": str(device) + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
            "options": options}


def run_child(name: str, path: str, args: argparse.Namespace) -> dict:
    """One (experiment, path) training, or the matmul peak (path "peak"), in a fresh process; its JSON result."""
    cmd = [sys.executable, "-m", "reprozoo.perf.bench", "--one", "--experiments", name, "--paths", path,
           "--epochs", str(args.epochs), "--device", args.device, "--splits", str(args.splits),
           "--params", str(args.params), "--synthetic", str(args.synthetic), "--threads", str(args.threads),
           "--warmup", str(args.warmup)]
    cmd += [flag for flag, on in (("--amp", args.amp), ("--channels-last", args.channels_last),
                                  ("--cuda-graphs", args.cuda_graphs),
                                  ("--compile", args.compile),
                                  ("--no-deterministic", args.no_deterministic)) if on]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if out.returncode != 0:
        sys.exit(f"error: bench of {name} ({path}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", help="default: params.yaml's tools.bench")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs; 0: each experiment's own from params")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--paths", nargs="+", default=["project", "seed-style"],
                        choices=("project", "seed-style", "peak"))
    parser.add_argument("--splits", type=Path, default=ROOT / "data" / "splits")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--synthetic", type=int, default=0,
                        help="train on N random CIFAR-shaped images instead of the split (speed only)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (project path)")
    parser.add_argument("--channels-last", action="store_true", help="channels_last on CUDA")
    parser.add_argument("--cuda-graphs", action="store_true", help="replay each training step as a CUDA graph")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (project path)")
    parser.add_argument("--no-deterministic", action="store_true", help="allow cuDNN's fastest algorithms")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs before the timed ones")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each path, taking turns; medians are reported, and the speedup is the "
                             "median of each turn's ratio (a shared VM's speed drifts)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    options = {"amp": args.amp, "channels_last": args.channels_last, "cuda_graphs": args.cuda_graphs,
               "compile": args.compile, "deterministic": not args.no_deterministic, "threads": args.threads,
               "warmup": args.warmup}
    if not args.experiments:
        from reprozoo.config.params import load_params

        args.experiments = load_params(args.params).tools.bench
    if args.one and args.paths[0] == "peak":
        from reprozoo.perf.roofline import run_peak

        print(json.dumps(run_peak(args.device, options)))
        return
    if args.one:
        result = run_one(args.experiments[0], args.paths[0], args.epochs, args.device, args.splits, args.params,
                         args.synthetic, options)
        print(json.dumps(result))
        return
    for name in args.experiments:  # a wrong name is one line before anything runs
        load_recipe(name, args.params)
    peak = run_child("", "peak", args)
    print(f"{'matmul peak':>18} {peak['peak_gflops']:>10.1f} GFLOP/s ({peak['peak_dtype']}, "
          f"{peak['peak_size']}x{peak['peak_size']}, {peak['device']})", file=sys.stderr)
    results = []
    for name in args.experiments:
        runs = {path: [] for path in args.paths}
        for _ in range(args.repeat):  # the paths take turns, so a slow spell of the machine hits both
            for path in args.paths:
                runs[path].append(run_child(name, path, args))
        row = {}
        for path, done in runs.items():
            ordered = sorted(done, key=lambda r: r["samples_per_s"])
            median = ordered[len(done) // 2]
            row[path] = {**median, "samples_per_s_runs": [r["samples_per_s"] for r in done],
                         "roofline_fraction": round(median["gflops"] / peak["peak_gflops"], 3)}
            print(f"{name:>18} {path:>10}: {row[path]['samples_per_s']:>10.1f} samples/s (median of {len(done)})  "
                  f"{median['flop_per_sample'] / 1e6:.2f} MFLOP/sample  {median['gflops']:.1f} GFLOP/s  "
                  f"{row[path]['roofline_fraction']:.0%} of peak  acc {row[path]['test_accuracy']:.4f}  "
                  f"{row[path]['seconds']:.1f}s", file=sys.stderr)
        if {"project", "seed-style"} <= set(row):
            # A turn runs the two paths back to back, so its ratio is less moved by the shared VM's slow
            # and fast spells than the ratio of the two medians is: in one run of 5 turns, s001's
            # project runs alone spread from 1 789 to 2 616 samples/s.
            pairs = [p["samples_per_s"] / s["samples_per_s"] for p, s in zip(runs["project"], runs["seed-style"])]
            row["speedup_runs"] = [round(r, 3) for r in pairs]
            row["speedup"] = round(statistics.median(pairs), 2)
            print(f"{name:>18} speedup {row['speedup']:.2f}x (median of the turns' ratios "
                  f"{', '.join(f'{r:.2f}' for r in pairs)})", file=sys.stderr)
        results.append({"experiment": name, **row})
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    report = {"machine": platform.node(), "cpu": cpu, "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "cpu_isa": os.environ.get("ATEN_CPU_CAPABILITY", "native"),
              "omp_spin": os.environ.get("GOMP_SPINCOUNT", os.environ.get("OMP_WAIT_POLICY", "libgomp default")),
              "epochs": args.epochs, "repeat": args.repeat, "matmul_peak": peak, "results": results}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    from reprozoo.ledger.stage import run_main

    run_main(main)
