"""Small synthetic images and image folders on disk, for the tests and the notebook checks (provided).

    write_images(root, {relative path: pixels})   any layout; the format follows the suffix (.png, .jpg, .JPG)
    write_constant(path, value, size)              one image of a single gray value
    class_tree(root, classes, per_class, ...)      root/<split>/<class>/<i>.png drawn from a seeded generator
    write_attribute_csv(path, rows)                a scene-attribute CSV (class folder, file name, 7 flags)
    noise_image, constant_image, ramp_image        in-memory grayscale PIL images
    serve_folder(folder)                           a local web site of a folder (with: yields its URL)

Pixels are uint8 arrays: (H, W) for grayscale, (H, W, 3) for RGB.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import http.server
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, Type, Union

import numpy as np
from PIL import Image

from proj4_lib.files import SPLITS

Pixels = Callable[[np.random.Generator, int], np.ndarray]  # (generator, class index) -> one image's pixels


def write_images(root: Union[str, Path], images: Mapping[Union[str, Path], np.ndarray]) -> Path:
    """Write root/<relative path> for each (relative path, pixels); returns root."""
    root = Path(root)
    for relative, pixels in images.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path)
    return root


def write_constant(path: Union[str, Path], value: int = 128, size=(8, 8)) -> Path:
    """One image of a single gray value at `path` (folders made as needed); returns the path."""
    path = Path(path)
    write_images(path.parent, {path.name: np.full(size, value, dtype=np.uint8)})
    return path


def noise(size=(16, 16)) -> Pixels:
    """Uniform noise over 0-255 of `size` (H, W), whatever the class."""
    return lambda rng, class_index: rng.integers(0, 256, size, dtype=np.uint8)


def darker_by_class(size=(16, 16)) -> Pixels:
    """Noise divided by (class index + 1): classes differ in brightness, so a model can tell them apart."""
    return lambda rng, class_index: rng.integers(0, 256, size, dtype=np.uint8) // (class_index + 1)


def class_tree(root: Union[str, Path], classes: Sequence[str], per_class: Union[int, Mapping[str, int]],
               pixels: Pixels = noise(),  # noqa: B008 - a pure function of (rng, class): one serves every call
               seed: int = 0, splits: Iterable[str] = SPLITS) -> Path:
    """root/<split>/<class>/<i>.png for every split and class, `per_class` images each (or per split).

    The images are drawn split by split, class by class, from one generator seeded with `seed`, so
    the same arguments always give the same tree. Returns root.
    """
    rng = np.random.default_rng(seed)
    images = {}
    for split in splits:
        count = per_class[split] if isinstance(per_class, Mapping) else per_class
        for index, name in enumerate(classes):
            for i in range(count):
                images[Path(split, name, f"{i}.png")] = pixels(rng, index)
    return write_images(root, images)


def write_attribute_csv(path: Union[str, Path], rows: Iterable[Sequence]) -> Path:
    """A CSV of rows (class folder, file name, flags...); an empty row is a blank line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def noise_image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, size=(height, width), dtype=np.uint8))


def constant_image(value: int, height: int = 50, width: int = 70) -> Image.Image:
    return Image.fromarray(np.full((height, width), value, dtype=np.uint8))


def ramp_image(height: int, width: int = 120, seed: int = 0) -> Image.Image:
    """A grayscale image with structure: a left-to-right ramp (0 to 200) plus noise (0 to 54)."""
    ramp = np.tile(np.linspace(0, 200, width), (height, 1))
    return Image.fromarray((ramp + np.random.default_rng(seed).integers(0, 55, (height, width))).astype(np.uint8))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Union[str, Path], handler: Type[http.server.SimpleHTTPRequestHandler] = QuietHandler
                 ) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) while inside `with`; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
