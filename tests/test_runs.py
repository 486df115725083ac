"""The runs chapters share: what a run records, the cache (hit, stale, code change), devices."""

import pytest
import torch

import vae_lib
from vae_lib import runs


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    return tmp_path


def no_training(*args, **kwargs):
    raise AssertionError("trained again although the settings were cached")


def test_a_run_records_curves_and_frames(cache):
    run = vae_lib.cached_vae(dataset="digits", latent_dim=3, epochs=2, train_size=300, frames=4)
    assert len(run.history) == 2 and len(run.train_terms) == 2
    for terms in run.train_terms:
        assert terms["loss"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-5)
    assert run.frames.shape == (2, 4, 1, 8, 8) and run.originals.shape == (4, 1, 8, 8)
    assert run.test_loss == run.history[-1].test_loss
    same_shape = vae_lib.MLPVAE(3, image_shape=(1, 8, 8))
    assert run.parameters == sum(p.numel() for p in same_shape.parameters())
    assert run.config.beta == 1.0 and run.config.batch_size == 128  # defaults filled in


def test_same_settings_load_from_the_cache(cache, monkeypatch):
    first = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    monkeypatch.setattr(runs, "train_vae", no_training)
    # spelling out a default gives the same config, hence the same cache entry
    again = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200, beta=1.0)
    weights = zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True)
    for a, b in weights:
        torch.testing.assert_close(a, b)
    assert again.history.column("test_loss") == first.history.column("test_loss")
    with pytest.raises(AssertionError, match="trained again"):
        vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200, beta=2.0)


def test_a_broken_cache_entry_is_retrained(cache):
    first = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    (entry,) = cache.glob("digits-mlp2-*.pt")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated, as by a crash or a full disk
    again = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    assert again.history.column("test_loss") == first.history.column("test_loss")
    assert entry.stat().st_size > 1000  # rewritten whole


def test_editing_the_library_retrains(cache, monkeypatch):
    vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    monkeypatch.setattr(runs, "code_version", lambda: "edited")
    monkeypatch.setattr(runs, "train_vae", no_training)
    with pytest.raises(AssertionError, match="trained again"):
        vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)


def test_code_version_follows_the_source():
    assert runs.code_version() == runs.code_version() and len(runs.code_version()) == 12


def test_trained_and_cached_models_land_on_the_same_device(cache, monkeypatch):
    # A device other than the one training used: "meta" stands in for a GPU on a CPU machine.
    monkeypatch.setattr(runs, "pick_device", lambda: torch.device("meta"))
    trained = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    monkeypatch.setattr(runs, "train_vae", no_training)
    loaded = vae_lib.cached_vae(dataset="digits", latent_dim=2, epochs=1, train_size=200)
    assert vae_lib.model_device(trained.model).type == "meta"
    assert vae_lib.model_device(loaded.model).type == "meta"


def test_unknown_model_kind_is_refused_before_training(cache):
    with pytest.raises(ValueError, match="--model must be one of mlp, conv"):
        vae_lib.cached_vae(dataset="digits", model="rnn", epochs=1)


def test_frey_face_gets_the_papers_gaussian_decoder(cache):
    assert vae_lib.VAEConfig(dataset="frey").likelihood == "gaussian"
    spec = vae_lib.VAEConfig(dataset="frey").model_spec((1, 28, 20))
    assert vae_lib.build_model(spec).likelihood == "gaussian"


def test_the_cache_key_follows_training_code_not_words_or_commands(tmp_path):
    import shutil

    from vae_lib.runkit.code import PACKAGE, code_version

    def version_after(edit) -> str:
        copy = tmp_path / f"v{len(list(tmp_path.iterdir()))}"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        edit(copy)
        return code_version(copy)

    def replace(relative: str, old: str, new: str):
        def edit(root):
            path = root / relative
            text = path.read_text()
            assert old in text, (relative, old)
            path.write_text(text.replace(old, new, 1))
        return edit

    base = version_after(lambda root: None)
    assert base == code_version(PACKAGE)
    unchanged = [
        replace("train.py", "Train a model by minimising", "Train the model by minimising"),
        replace("config.py", 'help="Adam step size"', 'help="the Adam step size"'),
        replace("train.py", "# where the model is", "# on the model's device"),
        replace("commands/flags.py", "def add_output_arguments", "def add_out_arguments"),
    ]
    for edit in unchanged:
        assert version_after(edit) == base
    changed = [
        replace("train.py", "batch_size: int = 128", "batch_size: int = 64"),
        replace("objectives.py", "0.5 * _flat(mu.pow(2)", "0.25 * _flat(mu.pow(2)"),
    ]
    for edit in changed:
        assert version_after(edit) != base


def test_a_library_bug_keeps_its_traceback(monkeypatch, capsys):
    """Bad input is one line; a ValueError from inside the library is a bug, not bad input."""
    from vae_lib import commands
    from vae_lib.commands import train as train_command

    def buggy(args):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(train_command, "train_command", buggy)
    with pytest.raises(ValueError, match="internal invariant"):
        commands.main(["train", "--dataset", "digits", "--out", "x"])
    monkeypatch.undo()
    assert commands.main(["train", "--epochs", "-1"]) == 2  # bad input: one line
    assert capsys.readouterr().err.count("\n") == 1
