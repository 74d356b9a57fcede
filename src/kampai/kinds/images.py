"""Images in table form: what the ``image-classification`` task gives its frameworks.

An image set is a DataFrame with one column ``image`` (absolute paths to image files) and,
for training, a label column.  :class:`Images` reads the three layouts the task accepts
(a folder with one sub-folder per class, a table of paths and labels, scikit-learn's
digits written out as PNGs) and turns images into pixels for pixel-based models (the
scikit-learn framework's ``Pixels`` transformer lives in its plugin).

PIL, numpy and pandas are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

IMAGE = "image"  # the column frameworks read image paths from
LABEL = "label"  # the label column of a folder-of-images frame
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
BAD = ("skip", "stop")  # what to do with unreadable or non-image files


@dataclass
class Images:
    """An image set: ``paths`` (absolute), ``labels`` (or None) and where it came from."""

    paths: list[str]
    labels: list[Any] | None = None
    root: str | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def frame(self, label: str = LABEL) -> pd.DataFrame:
        import pandas as pd

        out = pd.DataFrame({IMAGE: self.paths})
        if self.labels is not None:
            out[label] = self.labels
        out.attrs["path"] = self.root
        return out

    # ------------------------------------------------------------------ readers
    @classmethod
    def from_folder(cls, root: str | Path, bad: str | None = "stop") -> Images:
        """One sub-folder per class (torchvision's ImageFolder layout); a folder of images
        without sub-folders gives unlabelled images (for ``runner predict``).  ``bad=None``
        lists the files without opening them (the task checks them later)."""
        root = Path(root)
        classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            files = _image_files(root)
            if not files:
                raise DataError(f"Folder '{root}' holds neither class sub-folders nor images.")
            paths = check_readable(files, bad) if bad else [str(f.resolve()) for f in files]
            return cls(paths=paths, labels=None, root=str(root))
        paths, labels = [], []
        for folder in classes:
            files = _image_files(folder)
            if not files:
                raise DataError(f"Class folder '{folder}' holds no images ({', '.join(sorted(SUFFIXES))}).")
            good = check_readable(files, bad) if bad else [str(f.resolve()) for f in files]
            paths += good
            labels += [folder.name] * len(good)
        return cls(paths=paths, labels=labels, root=str(root))

    @classmethod
    def digits(cls, folder: Path) -> Images:
        """scikit-learn's 1,797 real 8x8 handwritten digits (shipped inside scikit-learn),
        written once as grey PNGs into ``folder/<digit>/<n>.png``."""
        import numpy as np
        from PIL import Image
        from sklearn.datasets import load_digits

        bunch = load_digits()
        done = folder / "complete"
        paths = [str(folder / str(t) / f"{i:04d}.png") for i, t in enumerate(bunch.target)]
        if not done.exists():
            for path, pixels in zip(paths, bunch.images, strict=True):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray((pixels * (255 / 16)).round().astype(np.uint8), mode="L").save(path)
            done.write_text("1797\n")
        return cls(paths=paths, labels=[str(t) for t in bunch.target], root=str(folder))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def check_readable(files: list[Path], bad: str = "stop") -> list[str]:
    """The paths of ``files`` that PIL can open; the others are skipped with a warning
    (``bad="skip"``) or stop with a DataError naming them (``"stop"``)."""
    from PIL import Image, UnidentifiedImageError

    if bad not in BAD:
        raise DataError(f"data.bad_images={bad!r}: use skip or stop.")
    good, broken = [], []
    for file in files:
        try:
            with Image.open(file) as img:
                img.verify()
            good.append(str(Path(file).resolve()))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            broken.append(str(file))
    if broken:
        shown = ", ".join(broken[:5]) + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
        if bad == "stop":
            raise DataError(f"{len(broken)} file(s) are not readable images: {shown}. Remove them or set "
                            "data.bad_images=skip.")
        from kampai.core.console import warn

        warn(f"Skipping {len(broken)} file(s) that are not readable images: {shown}.")
    if not good:
        raise DataError("No readable images.")
    return good


def load_image(path: str, size: int, mode: str = "RGB") -> np.ndarray:
    """One image as ``uint8`` ``(size, size, channels)``: converted to ``mode`` (mixed grey,
    RGB and RGBA files all work) and squished to ``size`` x ``size``."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert(mode).resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read image '{path}': {exc}") from None
    return array[:, :, None] if array.ndim == 2 else array


def pixels(paths: Any, size: int = 16, mode: str = "L") -> np.ndarray:
    """Images as flat float rows in [0, 1] (``n, size*size*channels``)."""
    import numpy as np

    paths = list(paths)
    if not paths:
        return np.zeros((0, size * size * len(mode)), dtype=np.float32)
    return np.stack([load_image(p, size, mode).reshape(-1) for p in paths]).astype(np.float32) / 255.0


# the kind's helpers, reachable from plugins through ``kampai.plugin.Images`` alone
Images.check_readable = staticmethod(check_readable)  # type: ignore[attr-defined]
Images.load_image = staticmethod(load_image)  # type: ignore[attr-defined]
Images.pixels = staticmethod(pixels)  # type: ignore[attr-defined]


#: classes that lived here once and are named by models saved then (a pickle or skops file
#: records a class by its module path): the path resolves to where each lives now
MOVED = {"Pixels": "kampai.plugins.sklearn.pixels"}


def __getattr__(name: str) -> Any:
    if name in MOVED:
        import importlib

        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
