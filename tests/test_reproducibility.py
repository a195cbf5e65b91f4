"""The reproducibility contract's route (a): the pinned kernels give the same bits whatever the host asks for.

A host's widest kernels differ (AVX-512 on one CPU, AVX2 on another); the host environment can also
cap them (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA). The pinned mode must give the same trained weights
under every such setting at or above the AVX2 floor, and the unpinned mode must not (else the pins
would prove nothing here).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from reprozoo import CPU_PINS

# One epoch of s003-lstm-mnist's recipe (LSTM: oneDNN; Linear: MKL; elementwise: ATen) on 1000 images.
TRAIN = """
import hashlib, sys
import reprozoo, torch
from reprozoo.data.mnist import from_embedded
from reprozoo.data.split import split_raw
from reprozoo.training.optim import make_optimizer
from reprozoo.training.runtime import configure, seed_everything
from reprozoo.tasks.image_classifier import build
from reprozoo.training.loop import fit
from reprozoo.harness.params import load_experiment

p = load_experiment("s003-lstm-mnist")[2]
configure("cpu", 2, True)
seed_everything(p.seed)
parts = split_raw(from_embedded(), 0.0, 0.8, 0)
manifest = {"image_shape": [1, 28, 28], "classes": [str(d) for d in range(10)]}
model = build(p, manifest)
optimizer = make_optimizer(p.optimizer, model.parameters(), p.lr, p.optimizer_args)
fit(model, parts["train"], parts["val"], optimizer, p.loss, 1, p.batch_size, torch.Generator().manual_seed(p.seed),
    torch.device("cpu"))
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.state_dict().values())).hexdigest()
print(torch.backends.cpu.get_cpu_capability(), digest)
"""
HOSTS = {  # what a host may set or allow, at or above the floor
    "host default": {},
    "AVX-512 allowed": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "AVX2 only": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
}


def trained(**env: str) -> tuple[str, str]:
    """(kernel set, sha256 of the weights) of one epoch trained in a fresh process under `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in (*CPU_PINS, "REPROZOO_CPU_ISA")}
    result = subprocess.run([sys.executable, "-c", TRAIN], env={**clean, **env}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    capability, digest = result.stdout.split()[-2:]
    return capability, digest


def test_pinned_kernels_give_the_same_bits_whatever_the_host_allows():
    runs = {host: trained(**env) for host, env in HOSTS.items()}
    assert {capability for capability, _ in runs.values()} == {"AVX2"}, runs
    assert len({digest for _, digest in runs.values()}) == 1, runs


@pytest.mark.skipif("avx512" not in open("/proc/cpuinfo").read() or torch.backends.cpu.get_cpu_capability()
                    not in ("AVX2", "AVX512"), reason="needs a CPU with AVX-512 to compare against AVX2")
def test_without_the_pins_the_host_changes_the_bits():
    wide = trained(REPROZOO_CPU_ISA="native", ATEN_CPU_CAPABILITY="avx512", ONEDNN_MAX_CPU_ISA="AVX512_CORE")
    narrow = trained(REPROZOO_CPU_ISA="native", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    assert wide[0] == "AVX512" and narrow[0] == "AVX2"
    assert wide[1] != narrow[1]  # what the pins remove: the same code, other bits
