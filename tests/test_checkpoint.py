"""Checkpoints: round trip, atomic writes, and clear errors for broken files."""

import pytest
import torch

import vae_lib
from vae_lib.files import atomic_write_text


@pytest.mark.parametrize(
    "model", [vae_lib.MLPVAE(latent_dim=3, hidden_dim=32), vae_lib.ConvVAE(latent_dim=4)]
)
def test_round_trip_rebuilds_the_same_model(tmp_path, model):
    path = vae_lib.save_checkpoint(model, tmp_path / "m.pt", history=[{"epoch": 1}])
    loaded, extras = vae_lib.load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.spec == model.spec
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


def _payload(model):
    from vae_lib.checkpoint import FORMAT, weights_digest

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {"format": FORMAT, "config": dict(model.spec), "state_dict": state,
            "sha256": weights_digest(state)}


def test_a_config_that_asks_for_a_huge_model_is_refused_before_allocating(tmp_path,
                                                                          monkeypatch):
    """Issue 21.4: valid checksum, tiny weights, a config of [1, 100000, 100000] images."""
    from vae_lib import checkpoint
    from vae_lib.models import MLPVAE

    payload = _payload(MLPVAE(latent_dim=2, hidden_dim=8))
    payload["config"]["image_shape"] = [1, 100_000, 100_000]
    path = tmp_path / "huge.pt"
    torch.save(payload, path)
    real_build = checkpoint.build_model
    devices = []

    def watched(config):
        devices.append(torch.empty(0).device.type)  # the default device while building
        return real_build(config)

    monkeypatch.setattr(checkpoint, "build_model", watched)
    with pytest.raises(vae_lib.CheckpointError, match="do not fit the stored config"):
        vae_lib.load_checkpoint(path, map_location="cpu")
    assert devices == ["meta"]  # built once, on the meta device, and never for real


def test_a_small_file_that_inflates_is_refused_before_loading(tmp_path, monkeypatch):
    """Issue 21.4: a 2 MB file with one deflated 2 GB record must not reach torch.load."""
    import zipfile

    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/data/0", "w", force_zip64=True) as record:
            block = bytes(2**20)
            for _ in range(64):  # 64 MB here is enough to show it; the rule has no size
                record.write(block)
    assert path.stat().st_size < 2**20
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was reached"))
    with pytest.raises(vae_lib.CheckpointError, match="would unpack"):
        vae_lib.load_checkpoint(path, map_location="cpu")


def test_the_cache_does_not_hand_back_another_model(tmp_path, monkeypatch):
    """Issue 21.5: a valid entry copied over another's file is not returned for it."""
    from vae_lib.models import MLPVAE
    from vae_lib.runs import cache_dir, cached_model

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    small = cached_model("entry", {"latent_dim": 2}, lambda: MLPVAE(latent_dim=2, hidden_dim=8))
    other = cached_model("entry", {"latent_dim": 3}, lambda: MLPVAE(latent_dim=3, hidden_dim=8))
    files = sorted(cache_dir().glob("entry-*.pt"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 2
    files[0].write_bytes(files[1].read_bytes())  # the latent-3 entry over the latent-2 one
    calls = []

    def retrain():
        calls.append(1)
        return MLPVAE(latent_dim=2, hidden_dim=8)

    again, _ = cached_model("entry", {"latent_dim": 2}, retrain)
    assert calls == [1] and again.latent_dim == 2 and small[0].latent_dim == 2
    assert other[0].latent_dim == 3


def test_a_cache_that_cannot_be_written_keeps_the_trained_model(tmp_path, monkeypatch):
    """Issue 21.12: a read-only or full cache folder warned nothing and lost the model."""
    from vae_lib import runs
    from vae_lib.models import MLPVAE

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "save_checkpoint", no_space)
    with pytest.warns(UserWarning, match="could not cache"):
        model, extras = runs.cached_model("entry", {"x": 1},
                                          lambda: (MLPVAE(latent_dim=2, hidden_dim=8), {"a": 1}))
    assert model.latent_dim == 2 and extras == {"a": 1}
