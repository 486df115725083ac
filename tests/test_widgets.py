"""The latent explorers: the live one redraws from Python, the static one is well-formed HTML."""

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import norm

import vae_lib
from vae_lib.display import static_explorer_html
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


# -- the static explorer ----------------------------------------------------------------------


class _Tree(HTMLParser):
    """Records each element with its attributes and the explorer roots it sits inside."""

    VOID = {"input", "img", "br", "meta", "link", "hr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.elements: list[tuple[str, dict, list[dict]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        roots = [a for _, a in self.stack if "data-vae-explorer" in a]
        self.elements.append((tag, attrs, roots))
        if tag == "script":
            self._in_script = True
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree


def _sprite(html: str) -> Image.Image:
    found = re.findall(r"url\('data:image/png;base64,([A-Za-z0-9+/=]+)'\)", html)
    assert len(found) == 1, "expected one embedded sprite sheet"
    data = base64.b64decode(found[0], validate=True)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def test_static_explorer_structure():
    model = _model(2)
    n = 7
    html = static_explorer_html(model, n=n, span=2.0, scale=3)
    tree = _parse(html)
    roots = [(tag, attrs) for tag, attrs, _ in tree.elements if "data-vae-explorer" in attrs]
    assert len(roots) == 1
    root = roots[0][1]
    assert root["data-cell"] == "3,3" and root["data-grid"] == str(n)
    sliders = [a for tag, a, inside in tree.elements if tag == "input" and inside]
    assert len(sliders) == 2 and all(a["type"] == "range" for a in sliders)
    assert all(a["min"] == "0" and a["max"] == str(n - 1) and a["value"] == "3" for a in sliders)
    # the script finds its own root by id, and moves the background
    script = "".join(tree.scripts)
    assert f'getElementById("{root["id"]}")' in script
    assert "backgroundPosition" in script and "data-cell" in script
    # the shown cell is the centre of a (n*28*3)-px sprite, 28*3 px per cell
    view = next(a for tag, a, inside in tree.elements if a.get("class") == "vae-explorer-view")
    style = " ".join(view["style"].split())
    assert "width:84px; height:84px" in style
    assert f"background-size:{n * 84}px {n * 84}px" in style
    assert "background-position:-252px -252px" in style


def test_explorers_name_their_controls():
    """Screen readers need a name for each slider; the static picture takes the keyboard focus."""
    for slider in LatentExplorer(_model(3)).sliders:
        tooltip = getattr(slider, "tooltip", None) or slider.description_tooltip
        assert tooltip == f"latent {slider.description}"
    tree = _parse(static_explorer_html(_model(2), n=3))
    inputs = [a for tag, a, inside in tree.elements if tag == "input" and inside]
    assert [a["aria-label"] for a in inputs] == ["latent z1", "latent z2"]
    view = next(a for tag, a, inside in tree.elements if a.get("class") == "vae-explorer-view")
    assert view["tabindex"] == "0" and view["aria-label"].startswith("decoded image at z1 = ")
    assert "ArrowLeft" in "".join(tree.scripts)


def test_static_explorer_sprite_cells_are_the_decoded_grid():
    model = _model(2)
    n, span = 5, 2.5
    sprite = _sprite(static_explorer_html(model, n=n, span=span))
    assert sprite.size == (n * 28, n * 28) and sprite.mode == "L"  # n x n cells of 28 x 28
    pixels = np.asarray(sprite)
    values = np.linspace(-span, span, n)
    for i in range(n):  # column i: z1 = values[i]
        for j in range(n):  # row j: z2 = values[j]
            cell = pixels[j * 28 : (j + 1) * 28, i * 28 : (i + 1) * 28]
            expected = _reference_pixels(model, [values[i], values[j]])
            assert np.abs(cell.astype(int) - expected).max() <= 1, f"cell {i},{j}"


def test_static_explorer_icdf_grid_and_extra_dimensions():
    model = _model(3)
    n = 4
    base = torch.tensor([0.0, 0.7, 0.0])
    html = static_explorer_html(model, n=n, span=0.9, grid="icdf", dims=(0, 2), base=base)
    values = norm.ppf(np.linspace(0.05, 0.95, n))
    pixels = np.asarray(_sprite(html))
    cell = pixels[2 * 28 : 3 * 28, 1 * 28 : 2 * 28]  # i = 1 (z1), j = 2 (z3)
    expected = _reference_pixels(model, [values[1], 0.7, values[2]])
    assert np.abs(cell.astype(int) - expected).max() <= 1
    assert ">z1 <input" in html and ">z3 <input" in html


def test_two_static_explorers_do_not_clash():
    model = _model(2)
    ids = {_parse(static_explorer_html(model, n=3)).elements[0][1]["id"] for _ in range(2)}
    assert len(ids) == 2
    html = static_explorer_html(model, n=3, element_id="mine")
    assert 'id="mine"' in html
    with pytest.raises(ValueError, match="element_id"):
        static_explorer_html(model, n=3, element_id='x" onload="alert(1)')
    with pytest.raises(ValueError, match="dims"):
        static_explorer_html(model, n=3, dims=(0, 0))


def test_table_html_escapes_and_checks_widths():
    from vae_lib.display import table_html

    html = table_html(["model", "loss"], [["MLP <20>", "105.4"], ["conv", "98.7"]], caption="a & b")
    tree = _parse(html)
    assert [t for t, _, _ in tree.elements].count("tr") == 3
    assert "MLP &lt;20&gt;" in html and "<caption>a &amp; b</caption>" in html
    with pytest.raises(ValueError, match="cells"):
        table_html(["a", "b"], [["only one"]])
