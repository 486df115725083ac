"""The shared training recipe: what it records, and that a second chapter loads, not trains."""

import pytest
import torch

import vae_lib
from vae_lib import recipes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_recipe_records_curves_and_frames(cache):
    run = vae_lib.cached_vae(dataset="digits", latent_dim=3, epochs=2, train_size=300, frames=4)
    assert len(run.history) == 2 and len(run.train_terms) == 2
    for terms in run.train_terms:
        assert terms["loss"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-5)
    assert run.frames.shape == (2, 4, 1, 8, 8) and run.originals.shape == (4, 1, 8, 8)
    assert run.test_loss == run.history[-1].test_loss
    same_shape = vae_lib.MLPVAE(3, image_shape=(1, 8, 8))
    assert run.parameters == sum(p.numel() for p in same_shape.parameters())
    assert run.settings["beta"] == 1.0 and run.settings["batch_size"] == 128  # defaults filled in


def test_same_settings_load_from_the_cache(cache, monkeypatch):
    first = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)

    def no_training(**kwargs):
        raise AssertionError("trained again although the settings were cached")

    monkeypatch.setattr(recipes, "train_vae", no_training)
    # spelling out a default gives the same settings, hence the same cache entry
    again = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200, beta=1.0)
    weights = zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True)
    for a, b in weights:
        torch.testing.assert_close(a, b)
    assert again.history.column("test_loss") == first.history.column("test_loss")
    with pytest.raises(AssertionError, match="trained again"):
        vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200, beta=2.0)


def test_recipe_rejects_unknown_model(cache):
    with pytest.raises(ValueError, match="model"):
        recipes.train_vae(dataset="digits", model="rnn", epochs=1)
