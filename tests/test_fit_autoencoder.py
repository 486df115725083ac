"""fit on the plain Autoencoder: it lowers the reconstruction loss, reports it right, repeats."""

import pytest
import torch
import torch.nn.functional as F

import vae_lib


@pytest.fixture(scope="module")
def digits():
    train = vae_lib.load_dataset("digits", "train").images
    return train, vae_lib.load_dataset("digits", "test").images


def small_autoencoder():
    return vae_lib.Autoencoder(latent_dim=2, hidden_dim=32, image_shape=(1, 8, 8))


def test_training_lowers_the_loss_below_the_mean_image(digits):
    train, test = digits
    model = small_autoencoder()
    history = vae_lib.fit(model, train, test, epochs=8, batch_size=64, quiet=True)
    assert len(history) == 8
    assert history[-1].test_loss < history[0].test_loss
    # An independent yardstick: predicting every test image by the mean training image.
    mean_image = train.mean(0, keepdim=True).clamp(1e-6, 1 - 1e-6).expand_as(test)
    baseline = F.binary_cross_entropy(mean_image, test, reduction="sum").item() / len(test)
    assert history[-1].test_loss < baseline


def test_reported_test_loss_is_the_summed_cross_entropy(digits):
    train, test = digits
    model = small_autoencoder()
    history = vae_lib.fit(model, train, test, epochs=1, quiet=True)
    with torch.no_grad():
        recon = model(test)
    expected = F.binary_cross_entropy(recon, test, reduction="sum").item() / len(test)
    record = history[-1]
    assert record.test_loss == pytest.approx(expected, rel=1e-4)
    assert record.test_recon == record.test_loss and record.test_kl == 0.0


def test_seeded_runs_repeat_exactly(digits):
    train, test = digits
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = small_autoencoder()
        history = vae_lib.fit(model, train, test[:50], epochs=2, seed=5, quiet=True)
        runs.append((history.column("train_loss"), model.encoder[1].weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])


def test_bad_arguments_are_refused(digits):
    train, test = digits
    with pytest.raises(ValueError, match="epochs"):
        vae_lib.fit(small_autoencoder(), train, test, epochs=-1)
    with pytest.raises(ValueError, match="learning rate"):
        vae_lib.fit(small_autoencoder(), train, test, lr=0)
    with pytest.raises(TypeError, match="objective"):
        vae_lib.fit(torch.nn.Linear(2, 2), train, test)
