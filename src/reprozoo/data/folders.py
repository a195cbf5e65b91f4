"""Image folders (torchvision ImageFolder layout: <split>/<class>/<image>): seed 004's cats vs dogs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from reprozoo.data.files import sha256_file
from reprozoo.data.split import Raw
from reprozoo.data.standin import cats_dogs_standin
from reprozoo.config.errors import ReprozooError

CROP = 224  # the seed's CenterCrop(224), VGG16's input size


def read_image_folder(folder: Path, crop: int = CROP) -> tuple[torch.Tensor, torch.Tensor, list[str], str]:
    """Every image under folder/<class>/ center-cropped to crop x crop RGB: uint8 (N, 3, crop, crop), labels,
    class names (sorted folder names, as ImageFolder gives) and one sha256 over all files."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import center_crop, pil_to_tensor

    try:
        found = ImageFolder(str(folder))
    except (FileNotFoundError, OSError) as err:
        raise ReprozooError(f"{folder}: not an image folder ({err}); expected {folder}/<class>/<image>.jpg") from None
    images, digest = [], hashlib.sha256()
    for path, _ in found.samples:
        try:  # the seed's transform: CenterCrop(224) (it pads smaller images), then ToTensor (kept as uint8)
            images.append(pil_to_tensor(center_crop(found.loader(path), [crop, crop])))
        except OSError as err:
            raise ReprozooError(f"{path}: unreadable image ({err})") from None
        digest.update(f"{Path(path).relative_to(folder)}:{sha256_file(Path(path))}\n".encode())
    labels = torch.tensor(np.array(found.targets, dtype=np.int64))
    return torch.stack(images), labels, found.classes, digest.hexdigest()


def from_train_val(root: Path, source: str) -> Raw:
    """root/train/ is the training pool, root/val/ the held-out set (the seed reports val accuracy)."""
    parts = {name: read_image_folder(root / name) for name in ("train", "val")}
    if parts["train"][2] != parts["val"][2]:
        raise ReprozooError(f"{root}: train/ has classes {parts['train'][2]} but val/ has {parts['val'][2]}")
    images = torch.cat([parts["train"][0], parts["val"][0]])
    labels = torch.cat([parts["train"][1], parts["val"][1]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[len(parts["train"][1]):] = True
    files = {f"{name}/": part[3] for name, part in parts.items()}  # one hash per folder, not one per photo
    return Raw(images, labels, is_test, parts["train"][2], source, files, str(root))


def fetch_cats_dogs(source: str, path: str | None, downloads: Path) -> Raw:
    """Cats vs dogs from an ImageFolder tree with train/ and val/; 'standin' is MNIST 8 vs 9 (data/standin.py)."""
    if source == "standin":
        return cats_dogs_standin()
    if source == "path":
        return from_train_val(Path(path).expanduser(), "path")
    raise ReprozooError(f"cats_dogs: unknown source {source!r}; allowed: standin, path")
