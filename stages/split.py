"""split@<dataset>: deterministic stratified train/val/test tensors plus a manifest in data/splits/<dataset>/."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.data.files import load_tensors, read_json
from reprozoo.data.mnist import Raw
from reprozoo.data.split import write_splits
from reprozoo.errors import ReprozooError, run_main
from reprozoo.params import load_params


def main() -> None:
    name = sys.argv[1]
    datasets = load_params().datasets
    if name not in datasets:
        raise ReprozooError(f"dataset {name!r} is not under datasets in params.yaml; known: {', '.join(datasets)}")
    d = datasets[name]
    folder = ROOT / "data" / "raw" / name
    fix = f"dvc repro --force download@{name}"
    tensors = load_tensors(folder / "raw.pt", fix)
    info = read_json(folder / "manifest.json", fix)
    raw = Raw(tensors["images"], tensors["labels"], tensors["is_test"], info["classes"], info["source"],
              info["files"], info["note"])
    manifest = write_splits(ROOT / "data" / "splits" / name, raw, info, d.val_fraction, d.test_fraction, d.seed)
    counts = {split: sum(c) for split, c in manifest["counts"].items()}
    print(f"split@{name}: {counts} data_sha256={manifest['data_sha256'][:12]}")


if __name__ == "__main__":
    run_main(main)
