"""download@<dataset>: fetch raw data from the dataset's configured source into data/raw/<dataset>/."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.data import fetch
from reprozoo.data.files import save_tensors, write_json
from reprozoo.errors import ReprozooError, run_main
from reprozoo.params import load_params


def main() -> None:
    name = sys.argv[1]
    params = load_params()
    if name not in params.datasets:
        raise ReprozooError(f"dataset {name!r} is not under datasets in params.yaml")
    d = params.datasets[name]
    raw = fetch(name, d.source, d.path, ROOT / "data" / "downloads")
    out = ROOT / "data" / "raw" / name
    save_tensors(out / "raw.pt", {"images": raw.images, "labels": raw.labels, "is_test": raw.is_test})
    write_json(out / "manifest.json", {"dataset": name, "source": raw.source, "classes": raw.classes,
                                       "files": raw.files, "note": raw.note, "count": len(raw.labels)})
    print(f"download@{name}: {len(raw.labels)} images from {raw.source} ({raw.note})")


if __name__ == "__main__":
    run_main(main)
