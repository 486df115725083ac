"""Data sets as tensors: images as floats in [0, 1] of shape (n, 1, H, W), plus labels.

The whole set lives in one tensor so training can slice minibatches on the device without
a per-sample DataLoader (see `vae_lib.train.fit`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .downloads import fetch_torchvision, fetch_url

DATASETS = ("mnist", "fashion-mnist", "frey", "digits")
# The decoder each data set gets: grey values near 0 or 1 suit a Bernoulli, Frey Face's real
# values a Gaussian (Kingma & Welling, Appendix C; `book/12_aevb.ipynb`).
LIKELIHOOD = {"mnist": "bernoulli", "fashion-mnist": "bernoulli", "frey": "gaussian",
              "digits": "bernoulli"}
SPLITS = ("train", "test")
FREY_TEST_SIZE = 200  # Frey Face ships as one video of 1965 frames; 200 of them are held out.
# Held-out Frey frames: FREY_BLOCKS blocks of FREY_BLOCK consecutive frames spread evenly over the
# video, each with FREY_GUARD frames on either side dropped from training (see `frey_split`).
FREY_BLOCKS, FREY_BLOCK, FREY_GUARD = 10, 20, 10
FREY_SPLITS = ("blocks", "tail")
FREY_SPLIT = "blocks"  # the default: held-out blocks spread over the video (chapter 12)
FREY_URL = "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"
DIGITS_TEST_SIZE = 297  # scikit-learn's 1797 digits: 1500 to train on, 297 to test.

_TORCHVISION_FILES = {
    "mnist": ("MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST"),
}
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class DataError(RuntimeError):
    """A data set could not be found or read; the message says which files and where.

    Raised by `load_dataset`; `python -m vae_lib` prints it as one line, with exit status 2.
    """


class ImageData(NamedTuple):
    """Images (n, 1, H, W) as float32 in [0, 1] and integer labels (n,): what `load_dataset`
    returns, one tensor each, so `fit` can slice minibatches without a DataLoader.

    Frey Face has no classes; its labels are frame numbers, which let a plot colour the
    latent codes by time in the video.
    """

    images: Tensor
    labels: Tensor


def _fetched(name: str, what: str, folder_hint: str, fetch: Callable[[], None]) -> None:
    """Run a download; any failure (offline, timeout, unwritable folder) is one DataError."""
    try:
        fetch()
    except Exception as err:
        raise DataError(f"{name}: could not find or download {what}; set VAE_DATA_DIR to a"
                        f" folder {folder_hint} ({type(err).__name__}: {_one_line(err)})") from None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder data sets live in: `root`, else $VAE_DATA_DIR, else ~/.cache/vae-book/data."""
    if root is not None:
        return Path(root)
    env = os.environ.get("VAE_DATA_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "vae-book" / "data"


def load_dataset(
    name: str, split: str = "train", root: str | os.PathLike | None = None, size: int | None = None,
    frey_split: str = FREY_SPLIT,
) -> ImageData:
    """Load a data set split as tensors; `size` resizes square images (32 for the conv VAE).

    Explained in `book/08_training.ipynb`; Frey Face, and its `frey_split` ("blocks", the
    default, or the old "tail"), in `book/12_aevb.ipynb` (see `frey_split`).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                             or not 1 <= size <= 1024):
        raise ValueError(f"size must be a whole number from 1 to 1024, got {size!r}")
    if frey_split not in FREY_SPLITS:
        raise ValueError(f"unknown frey_split {frey_split!r}; choose 'blocks' or 'tail'")
    folder = data_root(root)
    loader = {
        "mnist": _torchvision,
        "fashion-mnist": _torchvision,
        "frey": _frey,
        "digits": _digits,
    }
    data = loader[name](name, split, folder)
    if name == "frey":
        keep = frey_split_frames(len(data.labels), split, frey_split)
        data = ImageData(data.images[keep], data.labels[keep])
    if size is not None:
        data = ImageData(resize(data.images, size), data.labels)
    return data


MAX_RESIZED_BYTES = 4 * 2**30  # 4 GiB of float32 pixels: more is refused, not attempted


def resize(images: Tensor, size: int) -> Tensor:
    """Square images resized to size x size (bilinear, antialiased), clamped to [0, 1].

    Refuses in one line a result over MAX_RESIZED_BYTES (all 60,000 MNIST digits at 512 x 512
    would be 63 GB); `vae_lib.runs` resizes only the subset a run uses (`book/09_conv_vae`).
    """
    n, channels = images.shape[0], images.shape[1]
    needed = n * channels * size * size * 4
    if needed > MAX_RESIZED_BYTES:
        raise ValueError(f"resizing {n} images to {size} x {size} needs {needed / 2**30:.1f} GiB"
                         f" (at most {MAX_RESIZED_BYTES // 2**30} GiB): use fewer images or a"
                         " smaller size")
    out = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    return out.clamp(0, 1)


def _torchvision(name: str, split: str, folder: Path) -> ImageData:
    """MNIST and Fashion-MNIST from their IDX files; torchvision only downloads missing ones."""
    raw = folder / _TORCHVISION_FILES[name][1] / "raw"
    prefix = "train" if split == "train" else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if not all(_idx_file(raw, stem) for stem in stems):
        _fetched(name, f"it in {raw} (needs {', '.join(_IDX_FILES)})", "that has them",
                 lambda: fetch_torchvision(_TORCHVISION_FILES[name][0], folder))
    images = read_idx(_idx_file(raw, stems[0]), name, dims=3)
    labels = read_idx(_idx_file(raw, stems[1]), name, dims=1)
    if images.shape[1:] != (28, 28) or len(labels) != len(images):
        raise DataError(f"{name}: {raw} holds {tuple(images.shape)} images and {len(labels)}"
                        " labels; expected n 28x28 images and n labels")
    return ImageData(images.unsqueeze(1).float().div_(255), labels.long())


def _idx_file(raw: Path, stem: str) -> Path | None:
    for path in (raw / stem, raw / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def read_idx(path: Path, name: str, dims: int) -> Tensor:
    """An IDX file of unsigned bytes (the MNIST format), checked: header, shape, length.

    A corrupt, truncated or foreign file is a DataError that names it, not a download failure
    or an empty AssertionError.
    """
    import gzip
    import zlib

    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{name}: {path} is corrupt or truncated ({_one_line(err)})") from None
    header = 4 + 4 * dims
    if len(data) < header or data[:4] != bytes([0, 0, 8, dims]):
        raise DataError(f"{name}: {path} is not an IDX file of {dims}-d unsigned bytes"
                        " (bad header)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = header + math.prod(shape)
    if len(data) != expected:
        raise DataError(f"{name}: {path} is truncated or corrupt: its header promises"
                        f" {expected} bytes, the file has {len(data)}")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


def _frey(name: str, split: str, folder: Path) -> ImageData:
    """Frey Face: 1965 frames of 28x20 grey pixels from Sam Roweis' frey_rawface.mat."""
    path = folder / "frey" / "frey_rawface.mat"
    if not path.exists():
        _fetched("frey", f"{path} from {FREY_URL}", "with frey/frey_rawface.mat",
                 lambda: fetch_url(FREY_URL, path))
    raw = _read_frey(path)
    images = torch.from_numpy(raw.T.reshape(-1, 1, 28, 20).copy()).float().div_(255)
    return ImageData(images, torch.arange(images.shape[0]))  # every frame; load_dataset splits


def frey_split_frames(n_frames: int, split: str, kind: str = "blocks") -> Tensor:
    """The frame numbers of a Frey Face split, in video order: what `load_dataset`'s
    `frey_split` keeps (the baselines' numbers: experiments/frey_split/README.md).

    "tail" holds out the last 200 frames, as the book first did. Those frames are not like the
    rest of the video, so even models with no latent code (a per-pixel Gaussian, PPCA) score
    them 50-270 nats worse than the training frames: the tail split manufactures "overfitting".
    "blocks" (the default) holds out 10 blocks of 20 consecutive frames spread evenly over the
    whole video, so the test frames sample every part of it; a random split would not do, as
    neighbouring frames are near-duplicates and a test frame's neighbours would be trained on.
    So the 10 frames on either side of each block are dropped from training altogether.
    """
    frames = torch.arange(n_frames)
    if kind == "tail":
        cut = n_frames - FREY_TEST_SIZE
        return frames[:cut] if split == "train" else frames[cut:]
    is_test = torch.zeros(n_frames, dtype=torch.bool)
    is_guard = torch.zeros(n_frames, dtype=torch.bool)
    stride = n_frames / FREY_BLOCKS
    for i in range(FREY_BLOCKS):
        start = int(round((i + 0.5) * stride - FREY_BLOCK / 2))
        is_test[start : start + FREY_BLOCK] = True
        is_guard[max(start - FREY_GUARD, 0) : start + FREY_BLOCK + FREY_GUARD] = True
    return frames[is_test] if split == "test" else frames[~is_guard]


def _read_frey(path: Path):
    """The 'ff' matrix, checked: 560 (28 x 20 pixels) rows, one column per frame, bytes."""
    from scipy.io import loadmat

    try:
        raw = loadmat(path)["ff"]
    except KeyError:
        raise DataError(f"frey: {path} has no 'ff' matrix; is it frey_rawface.mat?") from None
    except Exception as err:
        raise DataError(f"frey: {path} is corrupt or truncated, or not a .mat file"
                        f" ({type(err).__name__}: {_one_line(err)})") from None
    if raw.ndim != 2 or raw.shape[0] != 28 * 20 or raw.shape[1] <= FREY_TEST_SIZE:
        hint = " (transposed?)" if raw.ndim == 2 and raw.shape[1] == 28 * 20 else ""
        raise DataError(f"frey: {path} holds a {'x'.join(map(str, raw.shape))} matrix{hint};"
                        f" expected 560 x frames (28 x 20 pixels per column)")
    if raw.dtype.kind not in "ui":
        raise DataError(f"frey: {path} holds {raw.dtype} values; expected bytes (0-255)")
    if raw.min() < 0 or raw.max() > 255:
        raise DataError(f"frey: {path} holds values outside 0-255; expected bytes")
    return raw


def _digits(name: str, split: str, folder: Path) -> ImageData:
    """scikit-learn's 8x8 digits (bundled, no download): small enough for second-long runs."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().div_(16).unsqueeze(1)
    labels = torch.from_numpy(bunch.target).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    images, labels = images[order], labels[order]
    cut = len(labels) - DIGITS_TEST_SIZE
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageData(images[part], labels[part])
