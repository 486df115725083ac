"""Checkpoints: round trip, atomic writes, and clear errors for broken files."""

import pytest
import torch

import vae_lib
from vae_lib.checkpoint import atomic_write_text


@pytest.mark.parametrize(
    "model", [vae_lib.MLPVAE(latent_dim=3, hidden_dim=32), vae_lib.ConvVAE(latent_dim=4)]
)
def test_round_trip_rebuilds_the_same_model(tmp_path, model):
    path = vae_lib.save_checkpoint(model, tmp_path / "m.pt", history=[{"epoch": 1}])
    loaded, extras = vae_lib.load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert extras["history"] == [{"epoch": 1}]
    x = torch.rand(2, *model.image_shape)
    mu, logvar = model.encode(x)
    mu2, logvar2 = loaded.encode(x)
    torch.testing.assert_close(mu, mu2)
    torch.testing.assert_close(logvar, logvar2)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = vae_lib.save_checkpoint(vae_lib.MLPVAE(latent_dim=2, hidden_dim=8), tmp_path / "m.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(vae_lib.CheckpointError, match="truncated or corrupt"):
        vae_lib.load_checkpoint(path)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(vae_lib.CheckpointError, match="no checkpoint"):
        vae_lib.load_checkpoint(tmp_path / "absent.pt")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    atomic_write_text(path, "old")

    def crash(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr("vae_lib.checkpoint.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]  # no temp file left behind


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    path = tmp_path / "notes.txt"
    atomic_write_text(path, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
