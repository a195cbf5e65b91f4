"""Surname -> country data for seed 002's GRU, from three sources, as (name, country) pairs.

embedded: built offline from the names-dataset package's surname table (last_names.pkl.gz,
  ranks per country from a 2021 Facebook-scrape census). For each of the seed's countries
  that the table covers, the `top_n` best-ranked surnames written in plain ASCII letters are
  taken; a surname ranked in several of these countries is labelled with the country where
  it ranks best (ties: the first in SEED_COUNTRIES), so each name appears once. The table has
  no Vietnam and no Scotland (Scottish names are in GB), so 16 of the seed's 18 classes exist.
csv: the seed's names_train.csv / names_test.csv, rows `name,country`, no header.
tutorial: PyTorch's data/names/ folder, <Language>.txt one name a line (accents folded to ASCII
  as the tutorial's unicodeToAscii does).
"""

from __future__ import annotations

import csv
import gzip
import pickle
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch

from reprozoo.data.files import atomic_write, read_json, sha256_file, write_json
from reprozoo.data.split import stratified_indices
from reprozoo.config.errors import ReprozooError

# The seed's 18 classes (PyTorch's names tutorial) -> names-dataset's country code (None: not covered).
SEED_COUNTRIES = {
    "Arabic": "SA", "Chinese": "CN", "Czech": "CZ", "Dutch": "NL", "English": "GB", "French": "FR",
    "German": "DE", "Greek": "GR", "Irish": "IE", "Italian": "IT", "Japanese": "JP", "Korean": "KR",
    "Polish": "PL", "Portuguese": "PT", "Russian": "RU", "Scottish": None, "Spanish": "ES", "Vietnamese": None,
}
PLAIN_NAME = re.compile(r"^[A-Za-z][A-Za-z' -]*$")  # ASCII letters only: the model embeds ASCII codes < 128
CSV_FILES = ("names_train.csv", "names_test.csv")


@dataclass
class NamesData:
    train: list[tuple[str, str]]  # (name, country)
    test: list[tuple[str, str]]
    classes: list[str]
    source: str
    files: dict[str, str] = field(default_factory=dict)  # file -> sha256
    note: str = ""


def to_ascii(name: str) -> str:
    """Fold accents away (Müller -> Muller), as PyTorch's tutorial does; other non-ASCII letters stay."""
    return "".join(c for c in unicodedata.normalize("NFD", name) if unicodedata.category(c) != "Mn")


def embedded_table() -> Path:
    """names-dataset's surname table (a gzipped pickle: name -> {'rank': {country code: rank}, ...})."""
    import names_dataset

    return Path(names_dataset.__file__).parent / "v3" / "last_names.pkl.gz"


def pick_surnames(table: dict, top_n: int) -> list[tuple[str, str]]:
    """Top-n plain-ASCII surnames per covered country, each labelled with the country where it ranks best."""
    codes = {code: country for country, code in SEED_COUNTRIES.items() if code}
    order = list(codes)
    ranked: dict[str, list[tuple[int, str]]] = {code: [] for code in codes}
    for name, info in table.items():
        if not PLAIN_NAME.match(name):
            continue
        for code, rank in (info.get("rank") or {}).items():
            if code in ranked and rank is not None:
                ranked[code].append((rank, name))
    best: dict[str, tuple[int, int, str]] = {}  # name -> (rank, country order, code)
    for code, entries in ranked.items():
        for rank, name in sorted(entries)[:top_n]:
            key = (rank, order.index(code), code)
            if name not in best or key < best[name]:
                best[name] = key
    return sorted((name, codes[key[2]]) for name, key in best.items())


def from_embedded(top_n: int) -> tuple[list[tuple[str, str]], dict[str, str], str]:
    """Read names-dataset's surname table once (~1 GB, ~10 s) and pick the surnames."""
    path = embedded_table()
    with gzip.open(path, "rb") as f:
        table = pickle.load(f)
    pairs = pick_surnames(table, top_n)
    note = (f"names-dataset {metadata.version('names-dataset')} last_names: top {top_n} ASCII surnames per "
            f"country, label = best-ranked country")
    return pairs, {path.name: sha256_file(path)}, note


def read_pairs_csv(path: Path) -> list[tuple[str, str]]:
    """Rows `name,country` (no header), as the seed's names_train.csv."""
    if not path.exists():
        raise ReprozooError(f"{path}: missing; source csv needs {' and '.join(CSV_FILES)} in datasets.names.path")
    pairs = []
    with open(path, newline="", encoding="utf-8") as f:
        for line_no, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise ReprozooError(f"{path}:{line_no}: expected `name,country`, got {','.join(row)!r}")
            name = to_ascii(row[0].strip())
            if not name.isascii():
                raise ReprozooError(f"{path}:{line_no}: name {row[0]!r} has non-ASCII letters; the model reads "
                                    f"ASCII codes < 128")
            pairs.append((name, row[1].strip()))
    return pairs


def read_tutorial(folder: Path) -> list[tuple[str, str]]:
    """PyTorch's data/names/<Language>.txt files; names that stay non-ASCII after folding are skipped."""
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ReprozooError(f"{folder}: no <Language>.txt files; source tutorial needs PyTorch's data/names/ folder")
    pairs = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            name = to_ascii(line.strip())
            if name and name.isascii():
                pairs.append((name, path.stem))
    return sorted(set(pairs))


def split_pairs(pairs: list[tuple[str, str]], classes: list[str], test_fraction: float,
                seed: int) -> tuple[list, list]:
    """Seeded stratified train/test split of (name, country) pairs."""
    labels = torch.tensor([classes.index(c) for _, c in pairs])
    parts = stratified_indices(labels, {"test": test_fraction}, seed)
    return [pairs[i] for i in parts["train"].tolist()], [pairs[i] for i in parts["test"].tolist()]


def fetch_names(source: str, path: str | None, top_n: int, test_fraction: float, seed: int) -> NamesData:
    """Names from `source` as train/test pairs with the files' checksums."""
    if source == "csv":
        folder = Path(path)
        train, test = (read_pairs_csv(folder / f) for f in CSV_FILES)
        classes = sorted({c for _, c in train + test})
        files = {f: sha256_file(folder / f) for f in CSV_FILES}
        return NamesData(train, test, classes, source, files, f"{folder}: the seed's csv pair")
    if source == "tutorial":
        folder = Path(path)
        pairs = read_tutorial(folder)
        files = {p.name: sha256_file(p) for p in sorted(folder.glob("*.txt"))}
        note = f"{folder}: PyTorch tutorial names, accents folded, duplicates within a language dropped"
    else:
        pairs, files, note = from_embedded(top_n)
    classes = sorted({c for _, c in pairs})
    train, test = split_pairs(pairs, classes, test_fraction, seed)
    return NamesData(train, test, classes, source, files, note)


def write_pairs_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Pairs in the seed's csv format (the download stage's output, readable by source csv)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(pairs)


def download_names(d, out: Path) -> str:
    """data/raw/names/: train.csv, test.csv (name,country) and a manifest with their checksums."""
    data = fetch_names(d.source, d.path, d.top_n, d.test_fraction, d.seed)
    for part, pairs in (("train", data.train), ("test", data.test)):
        atomic_write(out / f"{part}.csv", lambda p, pairs=pairs: write_pairs_csv(p, pairs))
    write_json(out / "manifest.json", {
        "dataset": "names", "source": data.source, "source_files": data.files, "source_note": data.note,
        "classes": data.classes, "files": {f"{part}.csv": sha256_file(out / f"{part}.csv") for part in ("train", "test")},
    })
    return (f"{len(data.train)} train / {len(data.test)} test names, {len(data.classes)} countries from "
            f"{data.source} ({data.note})")


def encode_names(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Names -> (N, longest) int64 ASCII codes padded with 0, and (N,) lengths."""
    lengths = torch.tensor([len(n) for n in names])
    codes = torch.zeros(len(names), int(lengths.max()) if names else 0, dtype=torch.long)
    for i, name in enumerate(names):
        codes[i, :len(name)] = torch.tensor([ord(c) for c in name])
    return codes, lengths


def split_names(raw: Path, out: Path) -> dict:
    """data/splits/names/: the raw csv pairs as ASCII codes, lengths and labels (no validation split)."""
    from reprozoo.data.split import class_counts, save_splits

    fix = "dvc repro --force download@names"
    manifest = read_json(raw / "manifest.json", fix)
    classes, splits = manifest["classes"], {}
    for part in ("train", "test"):
        path = raw / f"{part}.csv"
        if not path.exists() or sha256_file(path) != manifest["files"][f"{part}.csv"]:
            raise ReprozooError(f"{path}: missing or not as {raw / 'manifest.json'} records; recreate it with: {fix}")
        pairs = read_pairs_csv(path)
        unknown = sorted({c for _, c in pairs} - set(classes))
        if unknown:
            raise ReprozooError(f"{path}: country {unknown[0]!r} is not among the manifest's classes")
        codes, lengths = encode_names([n for n, _ in pairs])
        splits[part] = {"codes": codes, "lengths": lengths, "labels": torch.tensor([classes.index(c) for _, c in pairs])}
    splits["val"] = {k: v[:0].clone() for k, v in splits["test"].items()}  # a view would save all of test
    return save_splits(out, splits, {
        "dataset": "names", "source": manifest["source"], "source_files": manifest["source_files"],
        "source_note": manifest["source_note"], "classes": classes,
        "counts": {part: class_counts(s["labels"], len(classes)) for part, s in splits.items()},
    })
