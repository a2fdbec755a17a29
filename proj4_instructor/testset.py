"""The test split as the autograder's trusted side reads it: decoded once, at release time.

    images64.pt                 (N, 1, 64, 64) uint8: each test image resized to 64 x 64 (Parts 1-2;
                                the grader divides by 255 and normalises with the course's mean/std)
    features-<backbone>.pt      (N, D) float32: the pooled features of the pristine pretrained backbone
                                (proj4_lib.backbones, eval mode) of each image resized to 224 x 224
    key                         labels (N class indices), and the attribute CSV as row indices into the
                                N images with their 7 flags: root-only in the autograder

Every backbone whose ImageNet weights are on this machine gets its features; one whose weights are
missing is left out and said so (the autograder then cannot grade checkpoints on it). Results are
cached under ~/.cache/proj4/testset/<key>/, the key hashing the image files, the backbone weights
and the torch version, so tests that build the autograder many times decode the images once.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from proj4_lib import backbones
from proj4_lib.files import ATTRIBUTES, is_image_file, load_grayscale_image

CACHE = Path(os.environ.get("PROJ4_CACHE", Path.home() / ".cache" / "proj4")) / "testset"
SMALL, LARGE, BATCH = 64, 224, 50


def test_images(data_dir: Path) -> Tuple[List[Path], List[str]]:
    """The test images sorted by class folder then name, and the class names (sorted)."""
    test = Path(data_dir) / "test"
    classes = sorted(p.name for p in test.iterdir() if p.is_dir())
    images = [p for c in classes for p in sorted((test / c).iterdir()) if is_image_file(p.name)]
    return images, classes


def test_key(data_dir: Path) -> dict:
    """{"classes", "labels", "attribute_index", "flags", "attributes"} of the test split."""
    images, classes = test_images(data_dir)
    index = {(p.parent.name, p.name): i for i, p in enumerate(images)}
    rows = [r.split(",") for r in (Path(data_dir) / "scene_attributes_test.csv").read_text().splitlines() if r.strip()]
    attribute_index, flags = [], []
    for line_no, row in enumerate(rows, start=1):
        where = index.get((row[0].strip(), row[1].strip()))
        if where is None or len(row) != 2 + len(ATTRIBUTES):
            raise ValueError(f"scene_attributes_test.csv line {line_no}: no such test image, or not "
                             f"{2 + len(ATTRIBUTES)} columns: {row[:3]}")
        attribute_index.append(where)
        flags.append([int(float(c)) for c in row[2:]])
    return {"classes": classes, "labels": [classes.index(p.parent.name) for p in images],
            "attribute_index": attribute_index, "flags": flags, "attributes": list(ATTRIBUTES)}


def _weights_sha(backbone: str) -> str:
    try:
        path = backbones.pretrained_weights_file(backbone)
    except backbones.PretrainedWeightsUnavailable:
        return ""
    if not path.is_file():
        return ""
    return backbones_sha(path)


def backbones_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(images: List[Path], weights: Dict[str, str]) -> str:
    digest = hashlib.sha256(f"torch {torch.__version__}; {json.dumps(weights, sort_keys=True)}".encode())
    for path in images:
        digest.update(path.parent.name.encode() + b"/" + path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


@torch.no_grad()
def _features(backbone: str, images: List[Path]) -> torch.Tensor:
    from torchvision import transforms as T

    conv_layers, _ = backbones.load_backbone(backbone, pretrained=True)
    conv_layers.eval()
    transform = T.Compose([T.Resize((LARGE, LARGE)), T.ToTensor()])
    out = []
    for start in range(0, len(images), BATCH):
        batch = torch.stack([transform(load_grayscale_image(str(p))) for p in images[start:start + BATCH]])
        out.append(torch.flatten(conv_layers(batch), 1))
    return torch.cat(out).contiguous()


def _small(images: List[Path]) -> torch.Tensor:
    from torchvision import transforms as T

    resize = T.Resize((SMALL, SMALL))
    return torch.stack([T.PILToTensor()(resize(load_grayscale_image(str(p)))) for p in images]).contiguous()


def prepare(data_dir: Path, out: Path, log=print) -> List[str]:
    """Write images64.pt and features-<backbone>.pt to `out`; returns the backbones it has features for."""
    images, _ = test_images(data_dir)
    weights = {b: _weights_sha(b) for b in backbones.BACKBONES}
    cached = CACHE / cache_key(images, weights)
    if not (cached / "done").is_file():
        log(f"decoding {len(images)} test images and computing backbone features (cached in {cached}) ...")
        partial = cached.with_name(cached.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        torch.save(_small(images), partial / "images64.pt")
        for backbone, sha in weights.items():
            if not sha:
                log(f"warning: no ImageNet weights for {backbone} on this machine: the autograder will not be "
                    f"able to grade {backbone} checkpoints (put the weights where proj4_lib/backbones.py looks "
                    f"and build again)")
                continue
            torch.save(_features(backbone, images), partial / f"features-{backbone}.pt")
        (partial / "done").write_text(json.dumps(weights))
        shutil.rmtree(cached, ignore_errors=True)
        os.replace(partial, cached)
    out.mkdir(parents=True, exist_ok=True)
    for file in cached.glob("*.pt"):
        shutil.copy2(file, out / file.name)
    return sorted(p.stem.split("-", 1)[1] for p in cached.glob("features-*.pt"))


if __name__ == "__main__":  # python -m proj4_instructor.testset DATA_DIR OUT_DIR
    print(prepare(Path(sys.argv[1]), Path(sys.argv[2])))
