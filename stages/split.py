"""split@<dataset>: deterministic stratified train/val/test tensors plus a manifest in data/splits/<dataset>/."""

from __future__ import annotations

import json
import sys

from reprozoo import ROOT
from reprozoo.data.files import load_tensors
from reprozoo.data.mnist import Raw
from reprozoo.data.split import write_splits
from reprozoo.errors import run_main
from reprozoo.params import load_params


def main() -> None:
    name = sys.argv[1]
    d = load_params().datasets[name]
    folder = ROOT / "data" / "raw" / name
    tensors = load_tensors(folder / "raw.pt", f"dvc repro download@{name}")
    info = json.loads((folder / "manifest.json").read_text())
    raw = Raw(tensors["images"], tensors["labels"], tensors["is_test"], info["classes"], info["source"],
              info["files"], info["note"])
    manifest = write_splits(ROOT / "data" / "splits" / name, raw, info, d.val_fraction, d.test_fraction, d.seed)
    counts = {split: sum(c) for split, c in manifest["counts"].items()}
    print(f"split@{name}: {counts} data_sha256={manifest['data_sha256'][:12]}")


if __name__ == "__main__":
    run_main(main)
