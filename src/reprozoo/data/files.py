"""File helpers shared by every data stage: checksums, atomic writes, tensor bundles."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from reprozoo.config.errors import ReprozooError

_UMASK = os.umask(0)  # read once: os.umask can only be read by setting it
os.umask(_UMASK)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tensors(tensors: dict[str, torch.Tensor]) -> str:
    """Hex sha256 of tensors' names, dtypes, shapes and bytes: independent of file format."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename over `path`: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the output should read like any other file
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a file size limit: name the output, not the temp file
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: Any) -> None:
    """Write indented JSON atomically."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n"))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Save a dict of tensors atomically, byte for byte the same each time.

    torch.save names the zip's root folder after the file it is given, here a random temp name, so
    the same tensors saved twice differed and DVC reran every stage downstream. Given an open
    file it names that folder "archive".
    """
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(tensors, f)

    atomic_write(path, write)


def load_tensors(path: Path, fix: str) -> dict[str, torch.Tensor]:
    """Load a dict of tensors; a missing or unreadable file names the command that recreates it."""
    if not path.exists():
        raise ReprozooError(f"{path}: missing; recreate it with: {fix}")
    try:
        return torch.load(path, weights_only=True)
    except Exception as err:  # a truncated zip, a foreign file: both need the same fix
        raise ReprozooError(f"{path}: unreadable ({type(err).__name__}); recreate it with: {fix}") from None


def read_json(path: Path, fix: str) -> Any:
    """Load a JSON file; a missing or damaged one names the command that recreates it."""
    if not path.exists():
        raise ReprozooError(f"{path}: missing; recreate it with: {fix}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReprozooError(f"{path}: not valid JSON ({err.__class__.__name__}); recreate it with: {fix}") from None
