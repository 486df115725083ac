"""Data sets load as tensors of the documented shapes, and a missing copy is a clear error."""

import pytest
import torch

import vae_lib


def test_mnist_splits(mnist):
    train, test = mnist
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.float32
    assert 0 <= train.images.min() and train.images.max() == 1
    assert torch.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]


def test_fashion_mnist_has_1000_test_images_per_class():
    test = vae_lib.load_dataset("fashion-mnist", "test")
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_frey_face_is_1965_frames_of_28_by_20():
    train, test = vae_lib.load_dataset("frey", "train"), vae_lib.load_dataset("frey", "test")
    assert train.images.shape[1:] == (1, 28, 20)
    assert len(test.images) == 200 and len(train.images) == 1965 - 200 - 200  # guard frames
    assert not set(train.labels.tolist()) & set(test.labels.tolist())  # labels: frame numbers


def test_digits_and_resize():
    digits = vae_lib.load_dataset("digits", "train")
    assert digits.images.shape[1:] == (1, 8, 8) and digits.images.max() <= 1
    resized = vae_lib.load_dataset("digits", "test", size=32)
    assert resized.images.shape[1:] == (1, 32, 32)


def test_missing_local_copy_offline_is_one_clear_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    monkeypatch.setattr("urllib.request.urlretrieve", offline)
    for name in ("mnist", "frey"):
        with pytest.raises(vae_lib.DataError) as err:
            vae_lib.load_dataset(name, "train", root=tmp_path)
        message = str(err.value)
        assert "\n" not in message and str(tmp_path) in message


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown data set"):
        vae_lib.load_dataset("cifar", "train")
    with pytest.raises(ValueError, match="unknown split"):
        vae_lib.load_dataset("mnist", "validation")
