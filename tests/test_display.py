"""The in-page decoders: the layers a page runs match torch, and the explorers' HTML holds them.

The JavaScript itself runs in Node here (no browser needed): the same file the pages carry,
on the same weights, against `model.decode`. tests/browser/test_explorers.py then checks the
drawn pixels of the built book.
"""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

import vae_lib
from vae_lib.display import drag_pad_html, explorer_html, page_decoder
from vae_lib.display.explorers import MAX_WEIGHT_CHARS
from vae_lib.display.page_decoder import (
    MAX_PIXEL_ERROR,
    _rounded,
    decoder_fingerprint,
    decoder_layers,
    parity_codes,
    run_layers,
    weight_bytes,
)

JS = Path(vae_lib.__file__).parent / "display" / "explorer.js"


def _trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Untrained weights scaled up, so codes decode to varied, saturated pixels (logits of
    tens, as trained decoders have; the conv net has six layers to scale, the MLPs two)."""
    torch.manual_seed(seed)
    factor = 1.6 if isinstance(model, vae_lib.ConvVAE) else 3.0
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model.eval()


MODELS = {
    "mlp 2-d": lambda: vae_lib.MLPVAE(latent_dim=2, hidden_dim=64),
    "mlp 20-d, 784-400": lambda: vae_lib.MLPVAE(latent_dim=20),
    "tanh, Gaussian, 28 x 20": lambda: vae_lib.MLPVAE(
        latent_dim=2, hidden_dim=200, image_shape=(1, 28, 20), activation="tanh",
        likelihood="gaussian"),
    "conv 16-d": lambda: vae_lib.ConvVAE(latent_dim=16),
    "deep": lambda: vae_lib.DeepVAE(latent_dim=5, hidden_dims=(50, 30)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_page_layers_match_decode(name):
    torch.manual_seed(0)
    model = _trained_like(MODELS[name]())
    payload = page_decoder(model)
    assert payload["dtype"] == "f16" and payload["error"] <= MAX_PIXEL_ERROR
    codes = parity_codes(model.latent_dim, 3.0, n=40, seed=5)
    page = run_layers(_rounded(decoder_layers(model), "f16"), codes)
    with torch.no_grad():
        torch_images = model.decode(codes).flatten(1).double()
    assert (page - torch_images).abs().max() <= MAX_PIXEL_ERROR


def test_float32_when_float16_would_not_hold_parity():
    torch.manual_seed(0)
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=16).eval()
    with torch.no_grad():  # hidden units near 1000 whose terms cancel in the logits: float16's
        model.decoder[0].weight.mul_(0.01)  # rounding of each weight then moves a pixel a lot
        model.decoder[0].bias.fill_(1000.0)
        model.to_pixels.weight.normal_(0, 0.05)
        model.to_pixels.bias.copy_(-1000.0 * model.to_pixels.weight.sum(1))
    payload = page_decoder(model, span=3.0)
    assert payload["dtype"] == "f32", payload["error"]
    assert payload["error"] < MAX_PIXEL_ERROR / 10  # float32 against float32, summed apart


def test_a_decoder_that_is_not_the_sigmoid_of_its_layers_is_refused():
    model = vae_lib.LikelihoodVAE(likelihood="continuous_bernoulli", latent_dim=2, hidden_dim=16)
    with pytest.raises(ValueError, match="not the page's decoder"):
        page_decoder(_trained_like(model))
    with pytest.raises(ValueError, match="span"):
        page_decoder(vae_lib.MLPVAE(latent_dim=2, hidden_dim=8), span=0)


def test_unsupported_layers_are_one_line_errors():
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    model.decoder.append(torch.nn.Dropout())
    with pytest.raises(ValueError, match="cannot run a Dropout"):
        decoder_layers(model)


def test_chapter_sized_decoders_fit_the_page_budget():
    for model in (vae_lib.MLPVAE(latent_dim=20), vae_lib.MLPVAE(latent_dim=2),
                  vae_lib.ConvVAE(latent_dim=16)):
        size = weight_bytes(page_decoder(model.eval()))
        assert size <= MAX_WEIGHT_CHARS, size
    # the largest, 20-d 784-400: float16 in base64, about 0.86 MB
    assert weight_bytes(page_decoder(vae_lib.MLPVAE(latent_dim=20).eval())) < 900_000


def test_fingerprint_names_the_trained_weights():
    a, b = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8), vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    assert decoder_fingerprint(a) == decoder_fingerprint(a)
    assert decoder_fingerprint(a) != decoder_fingerprint(b)
    assert page_decoder(a.eval())["model"] == decoder_fingerprint(a)


# -- the JavaScript forward pass, in Node -------------------------------------------------------

NODE_RUN = """
const fs = require("fs");
global.window = {};
eval(fs.readFileSync(process.argv[1], "utf8"));
const job = JSON.parse(fs.readFileSync(0, "utf8"));
const decoder = new window.vaeBook.Decoder(job.decoder);
const out = job.codes.map(z => Array.from(decoder.run(Float64Array.from(z))));
process.stdout.write(JSON.stringify(out));
"""


def _node_decode(payload: dict, codes: torch.Tensor) -> torch.Tensor:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (make setup installs the npm packages with it)")
    job = json.dumps({"decoder": payload, "codes": codes.tolist()})
    done = subprocess.run([node, "-e", NODE_RUN, str(JS)], input=job, capture_output=True,
                          text=True, check=True, timeout=120)
    return torch.tensor(json.loads(done.stdout), dtype=torch.float64)


@pytest.mark.parametrize("name", ["mlp 2-d", "tanh, Gaussian, 28 x 20", "conv 16-d"])
def test_the_page_script_decodes_as_torch(name):
    torch.manual_seed(1)
    model = _trained_like(MODELS[name](), seed=1)
    payload = page_decoder(model)
    codes = parity_codes(model.latent_dim, 3.0, n=21, seed=2)  # 24 codes, the corners first
    page = _node_decode(payload, codes)
    reference = run_layers(_rounded(decoder_layers(model), payload["dtype"]), codes)
    assert (page - reference).abs().max() < 1e-9  # the same arithmetic as run_layers
    with torch.no_grad():
        torch_images = model.decode(codes).flatten(1).double()
    drawn = torch.round(page.clamp(0, 1) * 255)  # what the canvas holds
    assert (drawn - torch_images * 255).abs().max() <= 1.0


# -- the HTML ---------------------------------------------------------------------------------


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.json: list[str] = []
        self._json = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        self._json = tag == "script" and attrs.get("type") == "application/json"

    def handle_data(self, data):
        if self._json:
            self.json.append(data)

    def handle_endtag(self, tag):
        self._json = False


def _parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    return tree


def test_slider_explorer_structure():
    model = _trained_like(vae_lib.MLPVAE(latent_dim=12, hidden_dim=16))
    start = torch.linspace(-4, 4, 12)
    html = explorer_html(model, start=start, span=3.0, step=0.05, scale=4, title="a <b>")
    tree = _parse(html)
    root = next(a for _, a in tree.elements if "data-vae-explorer" in a)
    assert root["data-kind"] == "sliders" and root["data-model"] == decoder_fingerprint(model)
    sliders = [a for tag, a in tree.elements if tag == "input"]
    assert [a["aria-label"] for a in sliders] == [f"latent z{j + 1}" for j in range(12)]
    assert all(a["type"] == "range" and a["min"] == "-3.0" and a["max"] == "3.0" for a in sliders)
    code = [float(v) for v in root["data-z"].split(",")]
    assert code[0] == -3.0 and code[-1] == 3.0  # clamped to the range
    assert all(abs(v / 0.05 - round(v / 0.05)) < 1e-6 for v in code)  # on the sliders' steps
    canvas = next(a for tag, a in tree.elements if tag == "canvas")
    assert canvas["role"] == "img" and canvas["tabindex"] == "0"
    assert canvas["width"] == "28" and "width:112px" in canvas["style"]
    assert canvas["aria-label"].startswith("decoded image at z1 = -3.00, z2 = ")
    assert "--vae-x-cols: 2" in html and "a &lt;b&gt;" in html  # two columns past 10 units
    cfg = json.loads(tree.json[0])
    assert cfg["kind"] == "sliders" and cfg["decoder"]["dtype"] == "f16"
    assert f'window.vaeBook.mount("{root["id"]}")' in html and "function convT" in html


def test_drag_pad_structure_and_labels():
    model = _trained_like(vae_lib.MLPVAE(latent_dim=2, hidden_dim=16))
    images = torch.rand(50, 1, 28, 28)
    labels = torch.arange(50) % 10
    html = drag_pad_html(model, images, labels, class_names=[f"c{i}" for i in range(10)])
    tree = _parse(html)
    root = next(a for _, a in tree.elements if "data-vae-explorer" in a)
    assert root["data-kind"] == "pad" and root["data-z"] == "0.0,0.0"
    pad = next(a for _, a in tree.elements if a.get("class") == "vae-x-pad")
    assert pad["role"] == "slider" and pad["tabindex"] == "0" and pad["aria-valuetext"]
    cfg = json.loads(tree.json[0])
    assert len(cfg["labels"]) == len(__import__("base64").b64encode(bytes(50)))
    assert re.findall(r"<li>.*?</li>", html)[3].endswith("c3</li>")
    assert "one of 50 test images" in html
    # no labels: one colour, no legend (Frey Face)
    assert '<ul class="vae-x-legend"' not in drag_pad_html(model, images)


def test_explorers_refuse_bad_input_in_one_line():
    model2 = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    cases = [
        (lambda: explorer_html(model2, start=[0.0, 0.0, 0.0]), "entries"),
        (lambda: explorer_html(model2, span=-1), "span"),
        (lambda: explorer_html(model2, step=5, span=3), "step"),
        (lambda: explorer_html(model2, scale=0), "scale"),
        (lambda: explorer_html(model2, element_id='x" onload="alert(1)'), "element_id"),
        (lambda: drag_pad_html(vae_lib.MLPVAE(latent_dim=3, hidden_dim=8),
                               torch.rand(4, 1, 28, 28)), "2-d"),
        (lambda: drag_pad_html(model2, torch.rand(4, 1, 28, 28), torch.arange(3)), "labels"),
        (lambda: drag_pad_html(model2, torch.rand(0, 1, 28, 28)), "at least one"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def test_two_explorers_on_one_page_do_not_clash():
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    ids = {_parse(explorer_html(model)).elements[0][1]["id"] for _ in range(2)}
    assert len(ids) == 2
    assert 'id="mine"' in explorer_html(model, element_id="mine")


# -- a decoder given a label (chapter 20) ------------------------------------------------------

NODE_LABELLED = """
const fs = require("fs");
global.window = {};
eval(fs.readFileSync(process.argv[1], "utf8"));
const job = JSON.parse(fs.readFileSync(0, "utf8"));
const decoder = new window.vaeBook.Decoder(job.decoder);
const out = job.codes.map((z, i) => {
    decoder.setLabel(job.labels[i]);
    return Array.from(decoder.run(Float64Array.from(z)));
});
process.stdout.write(JSON.stringify(out));
"""


def _cvae(seed=0):
    torch.manual_seed(seed)
    return _trained_like(vae_lib.models.LabelCVAE(latent_dim=2, hidden_dim=64), seed)


def test_a_labelled_decoder_matches_decode_for_every_label():
    model = _cvae()
    payload = page_decoder(model)
    assert payload["labels"] == 10 and payload["error"] <= MAX_PIXEL_ERROR
    layers = _rounded(decoder_layers(model), payload["dtype"])
    assert layers[0]["w"].shape == (64, 2) and layers[0]["lb"].shape == (10, 64)
    codes = parity_codes(2, 3.0, n=20, seed=4).repeat(10, 1)
    labels = torch.arange(10).repeat_interleave(23)
    page = run_layers(layers, codes, labels)
    with torch.no_grad():
        torch_images = model.decode(codes, labels).flatten(1).double()
        other = model.decode(codes, (labels + 1) % 10).flatten(1).double()
    assert (page - torch_images).abs().max() <= MAX_PIXEL_ERROR
    assert (page - other).abs().max() > 0.1  # the label changes the picture
    with pytest.raises(ValueError, match="needs the labels"):
        run_layers(layers, codes)
    with pytest.raises(ValueError, match="labels must be"):
        run_layers(layers, codes, labels + 1)


def test_the_page_script_decodes_every_label_as_torch():
    model = _cvae(seed=2)
    payload = page_decoder(model)
    codes = parity_codes(2, 3.0, n=5, seed=3).repeat(10, 1)
    labels = torch.arange(10).repeat_interleave(8)
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (make setup installs the npm packages with it)")
    job = json.dumps({"decoder": payload, "codes": codes.tolist(), "labels": labels.tolist()})
    done = subprocess.run([node, "-e", NODE_LABELLED, str(JS)], input=job, capture_output=True,
                          text=True, check=True, timeout=120)
    page = torch.tensor(json.loads(done.stdout), dtype=torch.float64)
    reference = run_layers(_rounded(decoder_layers(model), payload["dtype"]), codes, labels)
    assert (page - reference).abs().max() < 1e-9
    with torch.no_grad():
        torch_images = model.decode(codes, labels).flatten(1).double()
    assert (torch.round(page.clamp(0, 1) * 255) - torch_images * 255).abs().max() <= 1.0


def test_a_labelled_explorer_has_a_labelled_selector_after_its_sliders():
    model = _cvae()
    names = [f"digit {c}" for c in range(10)]
    html = explorer_html(model, label=3, label_names=names, element_id="cv")
    tree = _parse(html)
    root = tree.elements[0][1]
    assert root["data-label"] == "3" and root["data-model"] == decoder_fingerprint(model)
    tags = [tag for tag, _ in tree.elements]
    assert tags.index("select") > max(i for i, t in enumerate(tags) if t == "input")
    select = next(a for tag, a in tree.elements if tag == "select")
    assert select["aria-label"] and select["id"] == "cv-label"
    options = [a for tag, a in tree.elements if tag == "option"]
    assert [a["value"] for a in options] == [str(c) for c in range(10)]
    assert [a for a in options if "selected" in a] == [options[3]]
    canvas = next(a for tag, a in tree.elements if tag == "canvas")
    assert canvas["aria-label"].startswith("decoded image at label digit 3, z1 = 0.00")
    cfg = json.loads(tree.json[0])
    assert cfg["label"] == 3 and cfg["names"] == names
    # an unlabelled decoder has no selector and refuses a label
    plain = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    plain_tree = _parse(explorer_html(plain))
    assert "select" not in [tag for tag, _ in plain_tree.elements]
    assert "data-label" not in plain_tree.elements[0][1]
    cases = [
        (lambda: explorer_html(model, label=10), "label must be"),
        (lambda: explorer_html(model, label=-1), "label must be"),
        (lambda: explorer_html(model, label_names=["a"]), "label_names"),
        (lambda: explorer_html(plain, label=1), "takes no label"),
        (lambda: drag_pad_html(model, torch.rand(4, 1, 28, 28)), "unlabelled"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
