"""The live latent explorer: it redraws from Python, and its bundle carries the in-page one."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

import vae_lib
from vae_lib.widgets import LatentExplorer


def _model(latent_dim: int) -> vae_lib.MLPVAE:
    """A small untrained decoder with large weights, so different codes give different pixels."""
    torch.manual_seed(1)
    model = vae_lib.MLPVAE(latent_dim=latent_dim, hidden_dim=32)
    with torch.no_grad():
        model.decoder[0].weight.mul_(8)
        model.to_pixels.weight.mul_(4)
    return model.eval()


def _reference_pixels(model, code) -> np.ndarray:
    """The decoder's mean image at `code` as 8-bit grey, computed without vae_lib.widgets."""
    with torch.no_grad():
        image = model.decode(torch.tensor([code], dtype=torch.float32))[0, 0]
    return np.rint(image.numpy().astype(np.float64) * 255).astype(np.uint8)


def _png_pixels(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


# -- the live explorer ------------------------------------------------------------------------


def test_live_explorer_has_one_slider_per_unit_for_any_size():
    for latent in (2, 5, 20):
        explorer = LatentExplorer(_model(latent))
        assert len(explorer.sliders) == latent
        assert all(s.min == -3 and s.max == 3 for s in explorer.sliders)


def test_live_explorer_redraws_when_a_slider_moves():
    model = _model(3)
    explorer = LatentExplorer(model, scale=2)
    first = explorer.image.value
    np.testing.assert_array_equal(_png_pixels(first)[::2, ::2], _reference_pixels(model, [0, 0, 0]))

    explorer.sliders[1].value = 1.5  # what dragging the slider does, set from Python
    after = explorer.image.value
    assert after != first
    pixels = _png_pixels(after)
    assert pixels.shape == (56, 56)
    np.testing.assert_array_equal(pixels[::2, ::2], _reference_pixels(model, [0, 1.5, 0]))
    # the bytes are exactly the PNG of the decoded image, enlarged with square pixels
    reference = Image.fromarray(_reference_pixels(model, [0, 1.5, 0]), mode="L")
    buffer = io.BytesIO()
    reference.resize((56, 56), Image.NEAREST).save(buffer, format="PNG")
    assert after == buffer.getvalue()
    torch.testing.assert_close(explorer.code(), torch.tensor([0.0, 1.5, 0.0]))

    explorer.sliders[0].value = -2.0
    np.testing.assert_array_equal(
        _png_pixels(explorer.image.value)[::2, ::2], _reference_pixels(model, [-2.0, 1.5, 0])
    )


def test_live_explorer_starts_from_a_given_code():
    model = _model(2)
    explorer = LatentExplorer(model, start=[0.5, -1.0], scale=1)
    expected = _reference_pixels(model, [0.5, -1])
    np.testing.assert_array_equal(_png_pixels(explorer.image.value), expected)
    with pytest.raises(ValueError, match="entries"):
        LatentExplorer(model, start=[0.0, 0.0, 0.0])


def test_live_explorer_names_its_sliders():
    """Screen readers need a name for each slider (the tooltip, copied onto it in the HTML)."""
    for slider in LatentExplorer(_model(3)).sliders:
        tooltip = getattr(slider, "tooltip", None) or slider.description_tooltip
        assert tooltip == f"latent {slider.description}"


def test_live_explorer_bundle_carries_the_in_page_explorer():
    """Jupyter draws the widget view; the book, which has no kernel, the text/html beside it."""
    explorer = LatentExplorer(_model(3))
    explorer.sliders[1].value = 1.5
    bundle = explorer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    html = data["text/html"]
    assert re.sub(r"vae-x-\w{12}", "ID", html) == re.sub(r"vae-x-\w{12}", "ID", explorer.html())
    assert 'data-kind="sliders"' in html and 'data-z="0.0,1.5,0.0"' in html
    assert html.count('type="range"') == 3


def test_table_html_escapes_and_checks_widths():
    from vae_lib.display import table_html

    html = table_html(["model", "loss"], [["MLP <20>", "105.4"], ["conv", "98.7"]], caption="a & b")
    assert html.count("<tr>") == 3
    assert "MLP &lt;20&gt;" in html and "<caption>a &amp; b</caption>" in html
    with pytest.raises(ValueError, match="cells"):
        table_html(["a", "b"], [["only one"]])


# -- a model given a label (chapter 20) -----------------------------------------------------------


def _labelled_model():
    torch.manual_seed(2)
    model = vae_lib.models.LabelCVAE(latent_dim=2, hidden_dim=32)
    with torch.no_grad():
        model.decoder[0].weight.mul_(8)
        model.to_pixels.weight.mul_(4)
    return model.eval()


def _labelled_pixels(model, code, label) -> np.ndarray:
    with torch.no_grad():
        image = model.decode(torch.tensor([code], dtype=torch.float32), label)[0, 0]
    return np.rint(image.numpy().astype(np.float64) * 255).astype(np.uint8)


def test_live_explorer_redraws_when_the_label_changes():
    model = _labelled_model()
    explorer = LatentExplorer(model, start=[0.5, -1.0], scale=1, label=4)
    assert explorer.label() == 4 and len(explorer.sliders) == 2
    np.testing.assert_array_equal(_png_pixels(explorer.image.value),
                                  _labelled_pixels(model, [0.5, -1.0], 4))
    seen = set()
    for label in range(10):
        explorer.labels.value = label  # what choosing in the dropdown does
        pixels = _png_pixels(explorer.image.value)
        np.testing.assert_array_equal(pixels, _labelled_pixels(model, [0.5, -1.0], label))
        seen.add(pixels.tobytes())
    assert len(seen) == 10  # ten labels, ten pictures
    tooltip = getattr(explorer.labels, "tooltip", None) or explorer.labels.description_tooltip
    assert tooltip and explorer.labels.description == "label"
    explorer.labels.value = 7
    html = explorer._repr_mimebundle_()
    html = (html[0] if isinstance(html, tuple) else html)["text/html"]
    assert 'data-label="7"' in html and "<select" in html


def test_live_explorer_refuses_a_bad_label():
    for bad in (10, -1, 2.5, True):
        with pytest.raises(ValueError, match="label must be"):
            LatentExplorer(_labelled_model(), label=bad)
    with pytest.raises(ValueError, match="takes no label"):
        LatentExplorer(_model(2), label=1)
    with pytest.raises(ValueError, match="label_names"):
        LatentExplorer(_labelled_model(), label_names=["a", "b"])
