"""The README's and docs' pictures are made by `make pictures` from the current outputs, and never stale.

docs/pictures.json records what each picture shows (the MLflow run metrics/report.json names, the
checksum of metrics/curves.csv); after a regeneration moves either on, the first test fails until
`make pictures` is run. The last one runs that command for real on the fresh clone's re-derived project.
"""

from __future__ import annotations

import json
import re

import pytest

from reprozoo import ROOT
from reprozoo.report.check import committed_tree
from reprozoo.report.pictures import RECORD, expected
from workspace import check

PNG = b"\x89PNG\r\n\x1a\n"


def shown_pictures() -> set[str]:
    """Every image the README and docs/ show, as a path from the repository root."""
    found = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text()):
            found.add(str((page.parent / link).resolve().relative_to(ROOT)))
    return found


def test_pictures_show_the_current_outputs(tmp_path):
    """The record matches the working tree's outputs or HEAD's: a `make repro` on a CPU whose kernels differ
    rewrites metrics/ within route (b) but leaves the committed pictures, which show the committed run."""
    recorded = json.loads((ROOT / RECORD).read_text())
    if recorded != expected(ROOT):
        assert recorded == expected(committed_tree(tmp_path)), "a picture is older than what it shows; run: make pictures"


def test_every_picture_shown_is_made_by_make_pictures():
    recorded = json.loads((ROOT / RECORD).read_text())
    assert shown_pictures() == set(recorded)
    for picture in recorded:
        assert (ROOT / picture).read_bytes()[:8] == PNG, picture


@pytest.mark.slow
@pytest.mark.ui
def test_make_pictures_draws_the_re_derived_project(clone):
    check(["python", "-m", "reprozoo.report.pictures"], clone, timeout=900)
    assert json.loads((clone / RECORD).read_text()) == expected(clone)
    for picture in expected(clone):
        shot = (clone / picture).read_bytes()
        assert shot[:8] == PNG and len(shot) > 20_000, picture  # drawn, not a blank page
