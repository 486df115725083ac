"""Shapes of both models and clear errors on bad input."""

import pytest
import torch

import vae_lib


@pytest.mark.parametrize(
    "model, image_shape",
    [
        (vae_lib.MLPVAE(), (1, 28, 28)),
        (
            vae_lib.MLPVAE(
                latent_dim=5,
                hidden_dim=200,
                image_shape=(1, 28, 20),
                activation="tanh",
                likelihood="gaussian",
            ),
            (1, 28, 20),
        ),
        (vae_lib.ConvVAE(), (1, 32, 32)),
    ],
)
def test_shapes_through_the_vae_interface(model, image_shape):
    x = torch.rand(7, *image_shape)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (7, model.latent_dim)
    z = model.reparameterize(mu, logvar)
    assert model.decode(z).shape == (7, *image_shape)
    recon, mu2, _ = model(x)
    assert recon.shape == x.shape and mu2.shape == mu.shape
    assert ((recon >= 0) & (recon <= 1)).all()
    assert model.sample(3).shape == (3, *image_shape)
    assert model.log_likelihood(x, z).shape == (7,)


def test_default_mlp_is_the_classic_784_400_20_400_784():
    model = vae_lib.MLPVAE()
    sizes = [
        (m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)
    ]
    assert sizes == [(784, 400), (400, 20), (400, 20), (20, 400), (400, 784)]


def test_conv_vae_follows_the_notes_architecture():
    model = vae_lib.ConvVAE()
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert model.to_mu.in_features == 128 and model.latent_dim == 16


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expects images of shape \(n, 1, 32, 32\)"):
        vae_lib.ConvVAE().encode(torch.rand(2, 1, 28, 28))


def test_nan_input_is_a_clear_error():
    x = torch.rand(2, 1, 28, 28)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        vae_lib.MLPVAE().encode(x)


def test_mismatched_latent_size_is_a_clear_error():
    with pytest.raises(ValueError, match="20-d latent space"):
        vae_lib.MLPVAE().decode(torch.zeros(3, 16))


@pytest.mark.parametrize(
    "kwargs", [{"latent_dim": 0}, {"activation": "gelu"}, {"likelihood": "poisson"}]
)
def test_bad_model_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        vae_lib.MLPVAE(**kwargs)
