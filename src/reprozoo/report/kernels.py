"""Kernel fingerprints: whether this CPU computes the training kernels with the committed run's bits.

Each probe runs one seeded kernel a recipe trains with (MKL's matrix products at the nets' shapes, ATen's
reductions and elementwise ops, the convolutions and recurrent layers forward and backward, an optimizer
step, numpy's OpenBLAS products and SVD) under the project's kernel settings (reprozoo/__init__.py), in
deterministic mode with `runtime.threads`, and hashes its output bytes. Two CPUs that agree on every probe compute those kernels
alike; `dvc repro` writes this machine's to metrics/kernels.json beside the figures, and `make
check-reproduction` expects bit-for-bit figures (route a) only where the fingerprints agree.

    python -m reprozoo.report.kernels                         # this CPU against the committed metrics/kernels.json
    python -m reprozoo.report.kernels --compare A.json B.json # two saved fingerprints
    python -m reprozoo.report.kernels --write FILE            # save this CPU's
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from reprozoo import ROOT
from reprozoo.data.files import read_json, write_json
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main

COMMITTED = ROOT / "metrics" / "kernels.json"
# Fingerprints measured on other CPUs (docs/reproducibility.md): `make kernels` compares this one with each
OTHER_CPUS = ROOT / "docs" / "fingerprints"
# Which probes each recipe family trains with; a recipe's verdict is that all of its probes agree.
FAMILIES = {
    "every recipe": ("mm", "sum", "log_softmax", "elementwise", "adam"),
    "convolutional (CNNs, Inception, ResNet, LeNet, VGG)": ("conv",),
    "LSTM and GRU": ("lstm", "gru"),
    "tanh RNN (s000, char RNNs, sin/cos)": ("rnn",),
    "numpy and scikit-learn's OpenBLAS (t-SNE probe, SVD)": ("openblas",),
}


def probes(threads: int) -> dict[str, str]:
    """probe name -> the first 16 hex digits of a sha256 of its output bits, on this machine."""
    import numpy as np
    import torch

    from reprozoo.training.runtime import configure

    configure("cpu", threads, deterministic=True)

    def digest(*tensors) -> str:
        h = hashlib.sha256()
        for t in tensors:
            h.update(t.detach().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def randn(seed: int, *shape: int):
        return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))

    def step(model, x) -> str:
        torch.manual_seed(0)
        for p in model.parameters():  # the same weights wherever the module's own init draws from
            p.data = randn(p.numel(), *p.shape) * 0.1
        y = model(x)
        y = y[0] if isinstance(y, tuple) else y
        y.pow(2).mean().backward()
        return digest(y, *(p.grad for p in model.parameters()))

    out = {}
    # the nets' matrix products: RNN input and hidden, MLP layers, the batched input projection, a large one
    for m, k, n in ((128, 28, 150), (128, 150, 150), (64, 784, 10), (64, 784, 512), (3584, 28, 150), (64, 30, 16),
                    (1024, 1024, 1024)):
        out[f"mm {m}x{k}@{k}x{n}"] = digest(randn(1, m, k) @ randn(2, k, n))
    out["sum 1e6"] = digest(randn(3, 1_000_000).sum().reshape(1))
    out["log_softmax 512x10"] = digest(torch.log_softmax(randn(4, 512, 10), 1))
    out["elementwise exp/tanh/sigmoid/relu 1e5"] = digest(*(f(randn(5, 100_000)) for f in (
        torch.exp, torch.tanh, torch.sigmoid, torch.relu)))
    out["conv 1->16 5x5, 16->32 5x5 (s003 CNN)"] = step(torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5, padding=2)), randn(6, 50, 1, 28, 28))
    out["conv 64->64 3x3 (VGG)"] = step(torch.nn.Conv2d(64, 64, 3, padding=1), randn(7, 32, 64, 32, 32))
    out["lstm 28->64 (s001, s003)"] = step(torch.nn.LSTM(28, 64, batch_first=True), randn(8, 64, 28, 28))
    out["gru 57->128 (names)"] = step(torch.nn.GRU(57, 128, batch_first=True), randn(9, 16, 12, 57))
    out["rnn tanh 28->150 x2 (s000)"] = step(torch.nn.RNN(28, 150, 2, batch_first=True), randn(10, 128, 28, 28))
    w = torch.nn.Parameter(randn(11, 1000))
    optimizer = torch.optim.Adam([w], lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        (w.sin() * randn(12, 1000)).sum().backward()
        optimizer.step()
    out["adam 3 steps"] = digest(w)
    # numpy's OpenBLAS (scikit-learn's PCA and t-SNE, the SVD): its products and an SVD at the probe's shapes
    a, b = randn(13, 500, 1568).double().numpy(), randn(14, 1568, 64).double().numpy()
    out["openblas dgemm 500x1568@1568x64"] = digest(torch.from_numpy(a @ b))
    out["openblas sgemm 500x1568@1568x64"] = digest(torch.from_numpy(a.astype("float32") @ b.astype("float32")))
    out["openblas svd 500x200"] = digest(torch.from_numpy(np.linalg.svd(a[:, :200], full_matrices=False)[1]))
    return out


def fingerprint(threads: int) -> dict:
    """This machine's fingerprint with what it was made under."""
    import os

    import torch

    from reprozoo import CPU_PINS
    from reprozoo.harness.outputs import machine

    return {"machine": machine(), "settings": {k: os.environ.get(k) for k in CPU_PINS},
            "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
            "probes": probes(threads)}


def read_fingerprint(path: Path, fix: str) -> dict:
    """A saved fingerprint, or one line naming the file (../shared/cross-cpu's files have other keys)."""
    found = read_json(path, fix)
    if not {"machine", "probes"} <= set(found):
        raise ReprozooError(f"{path}: not a fingerprint of `python -m reprozoo.report.kernels --write` (no "
                            "'machine' and 'probes'); compare another script's files with that script")
    return found


def differing(a: dict, b: dict) -> list[str]:
    """The probes whose bits differ between two fingerprints (a probe missing from either differs)."""
    pa, pb = a.get("probes", {}), b.get("probes", {})
    return sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))


def agree(a: dict | None, b: dict | None) -> bool:
    """Whether two fingerprints give the same bits on every probe, with the same torch and threads."""
    if not a or not b:
        return False
    same = all(a["machine"].get(k) == b["machine"].get(k) for k in ("torch", "threads"))
    return same and not differing(a, b)


def families(diff: list[str]) -> dict[str, bool]:
    """Each recipe family -> whether all of its probes agree."""
    return {family: not any(d.split()[0] in prefixes for d in diff) for family, prefixes in FAMILIES.items()}


def render(a: dict, b: dict, names: tuple[str, str]) -> str:
    diff = differing(a, b)
    lines = [f"{names[0]}: {a['machine'].get('cpu')} (torch {a['machine'].get('torch')}, "
             f"{a['machine'].get('threads')} threads)",
             f"{names[1]}: {b['machine'].get('cpu')} (torch {b['machine'].get('torch')}, "
             f"{b['machine'].get('threads')} threads)", ""]
    lines += [f"  {'same   ' if k not in diff else 'DIFFERS'} {k}" for k in sorted(set(a["probes"]) | set(b["probes"]))]
    lines.append("")
    lines += [f"  {'bit for bit (a)' if ok else 'within tolerance (b)'}: {family}"
              for family, ok in families(diff).items()]
    verdict = "agree: route (a), every figure bit for bit" if agree(a, b) else \
        "differ: route (b), every figure within its tolerance (docs/reproducibility.md)"
    lines.append(f"\n{len(a['probes']) - len(diff)} of {len(a['probes'])} probes give the same bits; {verdict}")
    return "\n".join(lines)


def other_cpus(mine: dict) -> list[str]:
    """One line per fingerprint in docs/fingerprints/: how many of the probes both ran give the same bits."""
    lines = []
    for path in sorted(OTHER_CPUS.glob("*.json")):
        other = read_fingerprint(path, f"git checkout {path.relative_to(ROOT)}")
        both = set(mine["probes"]) & set(other["probes"])
        diff = sorted(k for k in both if mine["probes"][k] != other["probes"][k])
        lines.append(f"  {path.name} ({other['machine'].get('cpu')}, MKL_CBWR={other['settings'].get('MKL_CBWR')}): "
                     f"{len(both) - len(diff)} of {len(both)} probes the same" + (f"; differ: {'; '.join(diff)}" if diff else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="This CPU's kernel fingerprint against the committed run's.")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two saved fingerprints")
    parser.add_argument("--write", type=Path, help="save this machine's fingerprint to this file")
    parser.add_argument("--threads", type=int, help="default: params.yaml's runtime.threads")
    args = parser.parse_args()
    if args.compare:
        a, b = (read_fingerprint(p, "python -m reprozoo.report.kernels --write FILE") for p in args.compare)
        print(render(a, b, tuple(str(p) for p in args.compare)))
        return
    if args.threads is None:
        from reprozoo.config.params import load_params

        args.threads = load_params().runtime.threads
    mine = fingerprint(args.threads)
    if args.write:
        write_json(args.write, mine)
        print(f"{args.write}: {len(mine['probes'])} probes")
        return
    committed = read_fingerprint(COMMITTED, "git checkout metrics/kernels.json")
    print(render(mine, committed, ("this machine", str(COMMITTED.relative_to(ROOT)))))
    print("\n".join(["", "Other CPUs (docs/fingerprints/), each under its own MKL_CBWR:", *other_cpus(mine)]))
    sys.exit(0 if agree(mine, committed) else 1)


if __name__ == "__main__":
    run_main(main)
