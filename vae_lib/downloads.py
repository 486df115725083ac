"""Downloads of the data sets, each with a timeout, for readers' machines.

This machine and CI read the data from $VAE_DATA_DIR and never get here. Failures are raised
as they come; `vae_lib.data` turns them into its one-line DataError. Where the files go:
README.md, 'Run the chapters yourself'.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

DOWNLOAD_TIMEOUT = 60  # seconds without an answer before a download gives up


@contextlib.contextmanager
def network_timeout(seconds: float = DOWNLOAD_TIMEOUT) -> Iterator[None]:
    """Every socket opened inside gives up after `seconds` of silence (a proxy that never
    answers would otherwise hang a chapter for ever); the old default comes back after."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def fetch_torchvision(class_name: str, folder: Path) -> None:
    """torchvision's download of a data set (`datasets.MNIST`, ...) into `folder`, under the
    timeout, so a mirror that stalls ends in an error instead of a hung chapter."""
    from torchvision import datasets

    with network_timeout():
        getattr(datasets, class_name)(root=str(folder), download=True)


def fetch_url(url: str, path: Path) -> None:
    """`url` saved to `path` through a part file; a failed download leaves nothing, so the next
    try starts afresh instead of reading half a file. For Frey Face, which torchvision lacks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    try:
        with network_timeout():
            urllib.request.urlretrieve(url, part)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
