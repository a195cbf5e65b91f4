"""reprozoo: reproducible re-runs of classic deep-learning tutorial experiments."""

import os
from pathlib import Path

# How long an idle OpenMP thread spins before it sleeps. libgomp's default (300 000 spins) made
# training 2-60x slower whenever two processes shared the 2 cores (a queue with -j 2, torchrun, a
# busy machine); sleeping at once (OMP_WAIT_POLICY=PASSIVE) made a lone process 5-10 % slower,
# as each of a step's many small parallel regions waits for its thread to wake. 300 spins keeps
# both: measured per step, alone / two processes at once, s001-lstm-mnist 22.9 / 44.6 ms with
# 300 spins, 25.2 / 43.6 ms passive, 23.2 / 90-1370 ms with libgomp's default. It must be set
# before torch loads OpenMP, so stages import reprozoo first; the Makefile sets it too. A user's
# own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "300")
os.environ.setdefault("MPLBACKEND", "Agg")  # stages draw figures headless

# The CPU kernels' instruction set, pinned before torch loads them. Float sums come out in another
# order in AVX-512 kernels than in AVX2 ones (measured: one epoch of s003-lstm-mnist on 20k images gave
# test accuracy 0.9209 with this machine's AVX-512 default, 0.9038 pinned as below, with other weights),
# so results re-derive on another CPU only with the same kernels: ATen's vectorised ops, oneDNN's
# convolutions and RNNs, and MKL's BLAS with its conditional numerical reproducibility mode. AVX2 is the
# floor every x86-64 CPU of the last decade has. Pinning cost 3-11 % of an epoch here
# (docs/reproducibility.md). REPROZOO_CPU_ISA=native leaves the host's choice (faster, not portable).
CPU_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
if os.environ.get("REPROZOO_CPU_ISA", "avx2") != "native":
    os.environ.update(CPU_PINS)


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
