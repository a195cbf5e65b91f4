"""reprozoo: reproducible re-runs of classic deep-learning tutorial experiments."""

import os
from pathlib import Path

# How long an idle OpenMP thread spins before it sleeps. A training step is hundreds of small parallel
# regions; a thread that sleeps between them must be woken for the next, which on this project's 2-core
# VMs cost more than the work: one s001-lstm-mnist step took 16.7 ms alone with 300 spins, 8.0 ms with
# 3000, 7.4 ms with 10 000 and 7.6 ms with libgomp's default (300 000); s000-rnn-mnist 41.1, 26.0, 24.6
# and 24.3 ms. But two 2-thread processes sharing the 2 cores (a `dvc queue start -j 2`, the tests beside
# a repro) spin against each other: per step, each of the two, 14.0 / 41 ms with 300 spins, 25.6 / 61
# with 3000, 52 / 97 with 10 000, 66 / 1200-1400 with libgomp's default. 3000 keeps a lone process
# within ~8 % of the fastest and a shared one within 2x of the best (docs/speed.md); give parallel
# processes one thread each (runtime.threads: 1) for the best of both. It must be set before torch loads
# OpenMP, so stages import reprozoo first; the Makefile sets it too. A user's own OMP_WAIT_POLICY or
# GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")
os.environ.setdefault("MPLBACKEND", "Agg")  # stages draw figures headless

# The CPU kernels' instruction set, pinned before torch loads them. Float sums come out in another
# order in AVX-512 kernels than in AVX2 ones (measured: one epoch of s003-lstm-mnist on 20k images gave
# test accuracy 0.9209 with this machine's AVX-512 default, 0.9038 pinned as below, with other weights),
# so results re-derive on another CPU only with the same kernels: ATen's vectorised ops, oneDNN's
# convolutions and RNNs, and MKL's BLAS with its conditional numerical reproducibility mode. AVX2 is the
# floor every x86-64 CPU of the last decade has. Pinning cost 3-11 % of an epoch (docs/reproducibility.md).
# MKL honours its AVX2 branch on Intel CPUs only; elsewhere it takes its own AMD path, the same on every
# AMD CPU measured (kernel fingerprints, reprozoo.report.kernels) but not Intel's bits.
# REPROZOO_CPU_ISA=compatible takes MKL's vendor-neutral SSE2 branch instead: it gave an Intel Xeon and
# this project's AMD machines the same bits for the recipes that only MKL and ATen compute, but not for
# the oneDNN convolutions and LSTMs nor the sin/cos RNN, and trained s000 1.7-2.1x slower, so it is not
# the default (docs/reproducibility.md). REPROZOO_CPU_ISA=native leaves the host's choice (faster, not
# portable).
# numpy's and scipy's OpenBLAS (scikit-learn's t-SNE and PCA, the SVD) picks its kernels by CPU too: on
# an AVX-512 Zen 4 its SkylakeX kernels gave the t-SNE probe's kNN accuracy 0.926 where the committed run
# (a Zen 3, Haswell kernels) gave 0.928; pinned to Haswell the Zen 4 gives the committed bits.
CPU_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
CPU_ISAS = ("avx2", "compatible", "native")
CPU_ISA = os.environ.get("REPROZOO_CPU_ISA") or "avx2"
if CPU_ISA not in CPU_ISAS:
    raise SystemExit(f"error: REPROZOO_CPU_ISA={CPU_ISA!r} is not one of {', '.join(CPU_ISAS)} "
                     "(docs/reproducibility.md); unset it for the default, avx2")
if CPU_ISA != "native":
    os.environ.update(CPU_PINS)
if CPU_ISA == "compatible":
    os.environ["MKL_CBWR"] = "COMPATIBLE"


def _workspace_root() -> Path:
    """Where a stage reads params.yaml and writes data/, models/, metrics/.

    DVC runs every stage command in its workspace and sets DVC_STAGE. For a queued
    experiment that workspace is a temp copy under .dvc/tmp/exps/, while this package may
    be imported from the original checkout (an editable install or PYTHONPATH), so the
    package's own location would read the original params and overwrite the original outputs.
    """
    if os.environ.get("DVC_STAGE"):
        return Path.cwd().resolve()
    return Path(__file__).resolve().parents[2]


# The repository root: stages resolve data/, models/ and metrics/ against it.
ROOT = _workspace_root()


def project_root() -> Path:
    """The original repository root, which holds the one MLflow store and .reprozoo/.

    DVC sets DVC_ROOT to it, also for queued experiments (DVC 3.x); their workspace is a temp
    copy under <root>/.dvc/tmp/exps/, so a DVC_ROOT or checkout inside one is walked back up.
    """
    root = Path(os.environ.get("DVC_ROOT") or ROOT).resolve()
    parts = root.parts
    for i in range(len(parts) - 3):
        if parts[i + 1:i + 4] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i + 1])
    return root
