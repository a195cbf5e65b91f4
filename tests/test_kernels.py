"""Kernel fingerprints (reprozoo.report.kernels): repeatable on one machine, and they see a change of kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reprozoo import CPU_PINS, ROOT
from reprozoo.report.kernels import agree, differing, families, render


def fingerprint(tmp_path, name: str, **env: str) -> dict:
    """This machine's fingerprint, made by the command in a fresh process under `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in (*CPU_PINS, "REPROZOO_CPU_ISA")}
    out = tmp_path / f"{name}.json"
    result = subprocess.run([sys.executable, "-m", "reprozoo.report.kernels", "--write", str(out), "--threads", "2"],
                            env={**clean, **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    return fingerprint(tmp_path_factory.mktemp("kernels"), "pinned")


def test_a_fingerprint_repeats_and_names_every_probe_the_committed_one_has(pinned, tmp_path):
    again = fingerprint(tmp_path, "again")
    assert agree(pinned, again) and not differing(pinned, again)
    committed = json.loads((ROOT / "metrics" / "kernels.json").read_text())
    assert set(committed["probes"]) == set(pinned["probes"])


def test_another_mkl_branch_changes_the_matrix_probes_and_the_verdict(pinned, tmp_path):
    """MKL's vendor-neutral branch: a large product changes bits on any CPU (which other probes change
    depends on the vendor: on an Intel Xeon the elementwise, GRU, RNN and Adam probes too)."""
    compatible = fingerprint(tmp_path, "compatible", REPROZOO_CPU_ISA="compatible")
    assert compatible["settings"]["MKL_CBWR"] == "COMPATIBLE"
    diff = differing(pinned, compatible)
    assert "mm 1024x1024@1024x1024" in diff  # summed with fused multiply-adds in one branch, not in the other
    assert not agree(pinned, compatible) and not families(diff)["every recipe"]
    text = render(pinned, compatible, ("pinned", "compatible"))
    assert "DIFFERS mm 1024x1024@1024x1024" in text and "route (b)" in text


def test_other_threads_or_torch_never_agree(pinned):
    assert not agree(pinned, {**pinned, "machine": {**pinned["machine"], "threads": 1}})
    assert not agree(pinned, {**pinned, "machine": {**pinned["machine"], "torch": "2.11.0"}})
    assert not agree(pinned, None)


def test_comparing_a_file_of_another_format_is_one_line(tmp_path):
    """../shared/cross-cpu's fingerprints have other keys: one line naming the file, no traceback."""
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"cpu": "x", "torch": "2.14.1", "settings": {}}))
    done = subprocess.run([sys.executable, "-m", "reprozoo.report.kernels", "--compare", str(other),
                           str(ROOT / "metrics" / "kernels.json")], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{other}: not a fingerprint" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_make_kernels_compares_this_cpu_with_each_other_cpu_measured():
    """docs/fingerprints/ holds an Intel Xeon's fingerprints (under the default and under compatible) and an AMD
    Zen 4's under compatible; against the committed AMD one, Intel's default differs in MKL's products and
    vector maths, as measured there."""
    from reprozoo.report.kernels import other_cpus

    committed = json.loads((ROOT / "metrics" / "kernels.json").read_text())
    lines = other_cpus(committed)
    assert [line.split()[0] for line in lines] == ["amd-epyc-zen4-compatible.json", "intel-xeon-avx2.json",
                                                   "intel-xeon-compatible.json"]
    assert lines[1].endswith("16 of 19 probes the same; differ: adam 3 steps; elementwise exp/tanh/sigmoid/relu 1e5; "
                             "mm 64x784@784x10")


def test_an_unknown_kernel_setting_is_one_line_naming_the_allowed_ones():
    env = {**os.environ, "REPROZOO_CPU_ISA": "avx512"}
    done = subprocess.run([sys.executable, "-c", "import reprozoo"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: REPROZOO_CPU_ISA='avx512' is not one of avx2, compatible, native "
                                   "(docs/reproducibility.md); unset it for the default, avx2")
