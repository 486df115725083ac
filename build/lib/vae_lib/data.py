"""Data sets as tensors: images as floats in [0, 1] of shape (n, 1, H, W), plus labels.

The whole set lives in one tensor so training can slice minibatches on the device without
a per-sample DataLoader (see `vae_lib.train.fit`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

DATASETS = ("mnist", "fashion-mnist", "frey", "digits")
# The decoder each data set gets: grey values near 0 or 1 suit a Bernoulli, Frey Face's real
# values a Gaussian (Kingma & Welling, Appendix C; `book/12_aevb.ipynb`).
LIKELIHOOD = {"mnist": "bernoulli", "fashion-mnist": "bernoulli", "frey": "gaussian",
              "digits": "bernoulli"}
SPLITS = ("train", "test")
FREY_TEST_SIZE = 200  # Frey Face ships as one block of 1965 frames; we hold the last 200 out.
DIGITS_TEST_SIZE = 297  # scikit-learn's 1797 digits: 1500 to train on, 297 to test.

_TORCHVISION_FILES = {
    "mnist": ("MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST"),
}
_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class DataError(RuntimeError):
    """A data set could not be found or read; the message says which files and where.

    Raised by `load_dataset` (`book/08_training.ipynb`).
    """


class ImageData(NamedTuple):
    """Images (n, 1, H, W) as float32 in [0, 1] and integer labels (n,); `book/08_training.ipynb`.

    Frey Face has no classes; its labels are frame numbers, which let a plot colour the
    latent codes by time in the video.
    """

    images: Tensor
    labels: Tensor


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
    name: str, split: str = "train", root: str | os.PathLike | None = None, size: int | None = None
) -> ImageData:
    """Load a data set split as tensors; `size` resizes square images (32 for the conv VAE).

    Explained in `book/08_training.ipynb`; Frey Face in `book/12_aevb.ipynb`.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    folder = data_root(root)
    loader = {
        "mnist": _torchvision,
        "fashion-mnist": _torchvision,
        "frey": _frey,
        "digits": _digits,
    }
    data = loader[name](name, split, folder)
    if size is not None:
        images = F.interpolate(data.images, size=(size, size), mode="bilinear", antialias=True)
        data = ImageData(images.clamp(0, 1), data.labels)
    return data


def _torchvision(name: str, split: str, folder: Path) -> ImageData:
    """MNIST and Fashion-MNIST through torchvision's own classes (which download when missing)."""
    from torchvision import datasets

    cls_name, subdir = _TORCHVISION_FILES[name]
    cls = getattr(datasets, cls_name)
    try:
        ds = cls(root=str(folder), train=split == "train", download=True)
    except Exception as err:  # offline, unwritable folder, bad checksum, ...
        need = ", ".join(_IDX_FILES)
        raise DataError(
            f"{name}: could not find or download it in {folder / subdir / 'raw'} (needs {need});"
            f" set VAE_DATA_DIR to a folder that has them ({type(err).__name__}: {_one_line(err)})"
        ) from None
    images = ds.data.unsqueeze(1).float().div_(255)
    return ImageData(images, ds.targets.long())


def _frey(name: str, split: str, folder: Path) -> ImageData:
    """Frey Face: 1965 frames of 28x20 grey pixels from Sam Roweis' frey_rawface.mat."""
    from scipy.io import loadmat

    path = folder / "frey" / "frey_rawface.mat"
    if not path.exists():
        _download_frey(path)
    try:
        raw = loadmat(path)["ff"]
    except Exception as err:
        raise DataError(
            f"frey: cannot read {path} ({type(err).__name__}: {_one_line(err)})"
        ) from None
    images = torch.from_numpy(raw.T.reshape(-1, 1, 28, 20).copy()).float().div_(255)
    frames = torch.arange(images.shape[0])
    cut = images.shape[0] - FREY_TEST_SIZE
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageData(images[part], frames[part])


def _download_frey(path: Path) -> None:
    import urllib.request

    url = "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        urllib.request.urlretrieve(url, tmp)
        tmp.replace(path)
    except Exception as err:
        raise DataError(
            f"frey: {path} is missing and the download from {url} failed"
            f" ({type(err).__name__}: {_one_line(err)});"
            " set VAE_DATA_DIR to a folder with frey/frey_rawface.mat"
        ) from None


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
