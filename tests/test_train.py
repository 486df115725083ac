"""Training: a short real run on MNIST lowers the test loss, and seeded runs repeat exactly."""

import pytest
import torch

import vae_lib
from vae_lib.runkit.state import fit_resumably


def test_short_mnist_run_lowers_the_test_loss(mnist):
    train, test = mnist
    model = vae_lib.MLPVAE(latent_dim=8, hidden_dim=200)
    before = vae_lib.evaluate(model, test.images[:2000])["loss"]
    history = vae_lib.fit(model, train.images[:6000], test.images[:2000], epochs=2, quiet=True)
    assert len(history) == 2
    assert history[-1].test_loss < before - 200  # from ~545 nats to well under 300
    assert history[-1].test_loss < history[0].test_loss
    last = history[-1]
    assert last.test_loss == pytest.approx(last.test_recon + last.test_kl, rel=1e-5)


def test_seeded_runs_repeat_exactly_on_the_cpu():
    data = vae_lib.load_dataset("digits", "train").images
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=16, image_shape=(1, 8, 8))
        history = vae_lib.fit(model, data, data[:100], epochs=2, batch_size=64, seed=3, quiet=True)
        runs.append((history.column("train_loss"), model.to_mu.weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])


def test_checkpoint_is_written_each_epoch_and_loads(tmp_path):
    data = vae_lib.load_dataset("digits", "train").images
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=16, image_shape=(1, 8, 8))
    fit_resumably(model, data, data[:50], tmp_path / "m.pt", epochs=1, quiet=True)
    loaded, extras = vae_lib.load_checkpoint(tmp_path / "m.pt")
    assert extras["history"][0]["epoch"] == 1
    torch.testing.assert_close(loaded.to_mu.weight, model.to_mu.weight.cpu())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": -1}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -0.1}, "learning rate"),
        ({"optimizer": "rmsprop"}, "unknown optimizer"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    data = torch.rand(10, 1, 8, 8)
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=4, image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=message):
        vae_lib.fit(model, data, data, quiet=True, **kwargs)


def test_pick_device_honours_the_override(monkeypatch):
    monkeypatch.setenv("VAE_DEVICE", "cpu")
    assert vae_lib.pick_device() == torch.device("cpu")
    monkeypatch.setenv("VAE_DEVICE", "nonsense")
    with pytest.raises(ValueError, match="not a torch device"):
        vae_lib.pick_device()


def test_the_thread_policy_is_one_thread_unless_asked(monkeypatch):
    from vae_lib import device

    before = torch.get_num_threads()
    try:
        for env, cpus, expected in ((None, 8, 1), ("2", 8, 2), ("6", 2, 2), ("3", 4, 3)):
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
            if env is None:
                monkeypatch.delenv("VAE_THREADS", raising=False)
            else:
                monkeypatch.setenv("VAE_THREADS", env)
            monkeypatch.setattr(device, "usable_cpus", lambda cpus=cpus: cpus)
            device.use_book_threads.cache_clear()
            assert device.use_book_threads() == expected == torch.get_num_threads()
        monkeypatch.setenv("VAE_THREADS", "two")
        device.use_book_threads.cache_clear()
        with pytest.raises(ValueError, match="whole number, got 'two'"):
            device.use_book_threads()
    finally:
        device.use_book_threads.cache_clear()
        torch.set_num_threads(before)
