"""names-download: the names dataset from zoo.names_data's source into data/raw/names/ (train.csv, test.csv).

The embedded source loads names-dataset's ~1 GB surname table: done once here, so training never does.
"""

from __future__ import annotations

import hashlib
import json

from reprozoo import ROOT
from reprozoo.data.files import atomic_write, sha256_file, write_json
from reprozoo.data.names import fetch_names, write_pairs_csv
from reprozoo.errors import run_main
from reprozoo.params import load_params


def main() -> None:
    d = load_params().zoo.names_data
    data = fetch_names(d.source, d.path, d.top_n, d.test_fraction, d.seed)
    out = ROOT / "data" / "raw" / "names"
    for part, pairs in (("train", data.train), ("test", data.test)):
        atomic_write(out / f"{part}.csv", lambda p, pairs=pairs: write_pairs_csv(p, pairs))
    files = {f"{part}.csv": sha256_file(out / f"{part}.csv") for part in ("train", "test")}
    write_json(out / "manifest.json", {
        "dataset": "names", "source": data.source, "source_files": data.files, "source_note": data.note,
        "classes": data.classes, "counts": {"train": len(data.train), "test": len(data.test)}, "files": files,
        # The csv bytes are written deterministically, so their hash is the content's.
        "data_sha256": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
    })
    print(f"names-download: {len(data.train)} train / {len(data.test)} test names, {len(data.classes)} countries "
          f"from {data.source} ({data.note})")


if __name__ == "__main__":
    run_main(main)
