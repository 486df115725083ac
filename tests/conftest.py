"""Shared fixtures. Tests that need real data use $VAE_DATA_DIR (CI sets it; never skipped)."""

import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST train and test splits (from $VAE_DATA_DIR, or downloaded)."""
    import vae_lib

    return vae_lib.load_dataset("mnist", "train"), vae_lib.load_dataset("mnist", "test")


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    """Unit tests run on the CPU so seeded results repeat exactly."""
    monkeypatch.setenv("VAE_DEVICE", os.environ.get("VAE_TEST_DEVICE", "cpu"))
