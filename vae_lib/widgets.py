"""Two ways to turn the dials of a trained decoder, as in `book/10_latent_space.ipynb`.

`latent_explorer` is live: one ipywidgets slider per latent unit, and every change decodes the
code again in the running kernel. It works for any latent size, but only with a kernel
(Jupyter, Colab, Binder).

`static_explorer_html` is for the built book, which has no kernel and must need no network:
it decodes a grid of codes ahead of time, packs the pictures into one sprite-sheet PNG embedded
as a data URI, and adds two range inputs and a few lines of JavaScript that move the sprite
(CSS `background-position`). Its root element carries `data-vae-explorer` and `data-cell="i,j"`
(the grid cell shown), the contract the browser tests in `tests/browser/` rely on. The picture
(`role="img"`, its `aria-label` the code shown) takes the keyboard focus, and the arrow keys move
the point: left/right the first slider, down/up the second.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from collections.abc import Sequence

import ipywidgets as widgets
import torch
from torch import Tensor, nn


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def to_uint8(image: Tensor) -> Tensor:
    """One decoded image (1, H, W) or (H, W) in [0, 1] as an (H, W) uint8 tensor."""
    image = image.detach().cpu().float()
    if image.dim() == 3:
        if image.shape[0] != 1:
            raise ValueError(f"expected a single-channel image, got shape {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"expected an image (1, H, W) or (H, W), got {tuple(image.shape)}")
    return image.clamp(0, 1).mul(255).round().to(torch.uint8)


def image_png(image: Tensor, scale: int = 1) -> bytes:
    """PNG bytes of one greyscale image, enlarged `scale` times with square (nearest) pixels.

    Widgets and data URIs want encoded bytes rather than a matplotlib figure: encoding a 28x28
    PNG takes well under a millisecond, so a slider can redraw on every move.
    """
    from PIL import Image

    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    picture = Image.fromarray(to_uint8(image).numpy(), mode="L")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@torch.no_grad()
def decode_png(model: nn.Module, z: Tensor | Sequence[float], scale: int = 1) -> bytes:
    """Decode one latent code and return the mean image as PNG bytes."""
    code = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1).to(_device(model))
    return image_png(model.decode(code)[0], scale)


# A slider's tooltip is its label's title, which names it for assistive technology (the book's
# _ext/vendor/widgets-config.js copies it onto the slider): `description_tooltip` in ipywidgets 7.
_TOOLTIP = (
    "tooltip" if "tooltip" in widgets.FloatSlider.class_trait_names() else "description_tooltip"
)


class LatentExplorer(widgets.HBox):
    """Sliders, one per latent unit, beside the image the decoder makes of the code they set.

    `sliders[j]` holds z_j and `image` the decoded picture (PNG bytes in `image.value`); moving a
    slider, in the browser or by setting `.value` from Python, decodes again. `code()` returns the
    current z.
    """

    def __init__(
        self,
        model: nn.Module,
        start: Tensor | Sequence[float] | None = None,
        span: float = 3.0,
        step: float = 0.05,
        scale: int = 5,
    ):
        latent = int(model.latent_dim)
        start_code = (
            torch.zeros(latent) if start is None else torch.as_tensor(start).float().reshape(-1)
        )
        if start_code.shape[0] != latent:
            raise ValueError(f"start must have {latent} entries, got {start_code.shape[0]}")
        if span <= 0:
            raise ValueError(f"span must be > 0, got {span}")
        self.model = model.eval()
        self.scale = scale
        # One column of sliders up to 10 units, two narrower ones beyond (fits a book page).
        columns = 1 if latent <= 10 else 2
        width = "320px" if columns == 1 else "250px"
        self.sliders = [
            widgets.FloatSlider(
                value=float(start_code[j].clamp(-span, span)), min=-span, max=span, step=step,
                description=f"z{j + 1}", continuous_update=True, readout_format=".2f",
                layout=widgets.Layout(width=width), **{_TOOLTIP: f"latent z{j + 1}"},
            )
            for j in range(latent)
        ]
        self.image = widgets.Image(format="png", value=decode_png(model, self.code(), scale))
        for slider in self.sliders:
            slider.observe(self._redraw, names="value")
        panel = widgets.GridBox(
            self.sliders,
            layout=widgets.Layout(grid_template_columns=f"repeat({columns}, {width})"),
        )
        super().__init__([self.image, panel], layout=widgets.Layout(align_items="center"))

    def code(self) -> Tensor:
        """The latent code the sliders currently set, shape (latent_dim,)."""
        return torch.tensor([s.value for s in self.sliders], dtype=torch.float32)

    def _redraw(self, change=None) -> None:
        self.image.value = decode_png(self.model, self.code(), self.scale)


def latent_explorer(
    model: nn.Module,
    start: Tensor | Sequence[float] | None = None,
    span: float = 3.0,
    step: float = 0.05,
    scale: int = 5,
) -> LatentExplorer:
    """A live explorer for a VAE with any latent size: FloatSliders over [-span, span].

    `start` is the first code shown (the prior mean 0 unless given; a test image's posterior
    mean starts from a real digit). Needs a running kernel: in a static page the sliders move
    but nothing decodes.
    """
    return LatentExplorer(model, start=start, span=span, step=step, scale=scale)


def explorer_values(n: int = 21, span: float = 3.0, grid: str = "uniform") -> Tensor:
    """The n values each axis of the static explorer takes, ascending.

    'uniform': evenly spaced over [-span, span]. 'icdf': the prior's quantiles at evenly spaced
    probabilities (Kingma & Welling's Figure 4 grid, `vae_lib.latent_grid`), denser where the
    prior puts its mass; `span` is then the probability mass covered (e.g. 0.95).
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if grid == "uniform":
        return torch.linspace(-span, span, n)
    if grid == "icdf":
        if not 0 < span < 1:
            raise ValueError(f"with grid='icdf', span is a probability mass in (0, 1), got {span}")
        probs = torch.linspace((1 - span) / 2, (1 + span) / 2, n, dtype=torch.float64)
        return torch.distributions.Normal(0.0, 1.0).icdf(probs).float()
    raise ValueError(f"grid must be 'uniform' or 'icdf', got {grid!r}")


@torch.no_grad()
def sprite_sheet(
    model: nn.Module,
    values: Tensor,
    dims: tuple[int, int] = (0, 1),
    base: Tensor | None = None,
) -> Tensor:
    """Decode the grid of codes and tile it: cell (i, j) -> column i, row j, as (n*H, n*W) uint8.

    Cell (i, j) holds the decoded image at z[dims[0]] = values[i], z[dims[1]] = values[j], the
    other units at `base` (zeros unless given).
    """
    latent = int(model.latent_dim)
    if len(set(dims)) != 2 or not all(0 <= d < latent for d in dims):
        raise ValueError(f"dims must be two different units of the {latent}-d latent, got {dims}")
    n = values.shape[0]
    base = torch.zeros(latent) if base is None else torch.as_tensor(base).float().reshape(-1)
    codes = base.repeat(n, n, 1)  # codes[j, i] -> row j, column i
    codes[:, :, dims[0]] = values.reshape(1, n)
    codes[:, :, dims[1]] = values.reshape(n, 1)
    model.eval()
    images = model.decode(codes.reshape(-1, latent).to(_device(model))).cpu()
    if images.shape[1] != 1:
        raise ValueError("the static explorer draws single-channel images only")
    h, w = images.shape[-2:]
    tiles = images.reshape(n, n, h, w).permute(0, 2, 1, 3).reshape(n * h, n * w)
    return to_uint8(tiles)


_EXPLORER_TEMPLATE = """\
<div id="{uid}" class="vae-explorer" data-vae-explorer="" data-cell="{i0},{j0}" data-grid="{n}"
     style="display:flex; flex-wrap:wrap; align-items:center; gap:1.5em; margin:1em 0;">
  <style>
    #{uid} .vae-explorer-view:focus, #{uid} input:focus {{
      outline: 3px solid #1a5fb4; outline-offset: 3px;
    }}
  </style>
  <div class="vae-explorer-view" role="img" tabindex="0" aria-label="{aria}"
       aria-describedby="{uid}-keys"
       style="width:{cw}px; height:{ch}px; flex:none; border:1px solid #bbb;
              background-image:url('data:image/png;base64,{sprite}');
              background-size:{sw}px {sh}px; background-repeat:no-repeat;
              background-position:{x0}px {y0}px; image-rendering:pixelated;"></div>
  <div class="vae-explorer-controls" style="display:flex; flex-direction:column; gap:0.6em;">
    <strong>{title}</strong>
    <label>{label0} <input type="range" min="0" max="{last}" step="1" value="{i0}"
           aria-label="latent {label0}" style="vertical-align:middle;">
      <output>{v0}</output></label>
    <label>{label1} <input type="range" min="0" max="{last}" step="1" value="{j0}"
           aria-label="latent {label1}" style="vertical-align:middle;">
      <output>{v1}</output></label>
    <small id="{uid}-keys">On the picture, the arrow keys move the point:
      left and right change {label0}, down and up change {label1}.</small>
  </div>
</div>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  if (!root) {{ return; }}
  var values = {values};
  var view = root.querySelector(".vae-explorer-view");
  var sliders = root.querySelectorAll("input[type=range]");
  var outputs = root.querySelectorAll("output");
  // Arrow key -> steps of [slider 0, slider 1], the way the range inputs themselves step.
  var steps = {{ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowDown: [0, -1], ArrowUp: [0, 1]}};
  function update() {{
    var i = Number(sliders[0].value), j = Number(sliders[1].value);
    view.style.backgroundPosition = (-i * {cw}) + "px " + (-j * {ch}) + "px";
    root.setAttribute("data-cell", i + "," + j);
    outputs[0].textContent = values[i].toFixed(2);
    outputs[1].textContent = values[j].toFixed(2);
    view.setAttribute("aria-label", "decoded image at {label0} = " + values[i].toFixed(2) +
                      ", {label1} = " + values[j].toFixed(2));
  }}
  for (var k = 0; k < sliders.length; k++) {{
    sliders[k].addEventListener("input", update);
    sliders[k].addEventListener("change", update);
  }}
  view.addEventListener("keydown", function (event) {{
    var step = steps[event.key];
    if (!step) {{ return; }}
    event.preventDefault();  // no page scroll; a range input clamps a value past its end
    sliders[0].value = Number(sliders[0].value) + step[0];
    sliders[1].value = Number(sliders[1].value) + step[1];
    update();
  }});
  update();
}})();
</script>
"""


def static_explorer_html(
    model: nn.Module,
    n: int = 21,
    span: float = 3.0,
    grid: str = "uniform",
    dims: tuple[int, int] = (0, 1),
    base: Tensor | None = None,
    scale: int = 5,
    title: str = "Decoder output",
    element_id: str | None = None,
) -> str:
    """A latent explorer that needs no kernel and no network: HTML with an embedded sprite sheet.

    The n x n decoded images of `sprite_sheet` go into one PNG (a data URI); two
    `<input type="range">` pick the cell, and inline JavaScript moves the CSS background to it
    and writes the cell to the root's `data-cell="i,j"`. Each call gets its own element id
    (random unless `element_id` is given), so several explorers can share a page. With a latent
    space of more than two units, `dims` picks the two the sliders move and `base` fixes the rest.
    """
    from html import escape

    from PIL import Image

    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    values = explorer_values(n, span, grid)
    sheet = sprite_sheet(model, values, dims, base)
    shown = [round(v, 4) + 0.0 for v in values.tolist()]  # + 0.0 turns -0.0 into 0.0
    buffer = io.BytesIO()
    Image.fromarray(sheet.numpy(), mode="L").save(buffer, format="PNG", optimize=True)
    sprite = base64.b64encode(buffer.getvalue()).decode("ascii")
    h, w = sheet.shape[0] // n, sheet.shape[1] // n
    cw, ch = w * scale, h * scale
    i0 = j0 = n // 2
    label0, label1 = f"z{dims[0] + 1}", f"z{dims[1] + 1}"
    v0, v1 = f"{shown[i0]:.2f}", f"{shown[j0]:.2f}"
    uid = element_id or f"vae-explorer-{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", uid):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', got {uid!r}")
    return _EXPLORER_TEMPLATE.format(
        uid=uid,
        i0=i0,
        j0=j0,
        n=n,
        last=n - 1,
        cw=cw,
        ch=ch,
        sw=n * cw,
        sh=n * ch,
        x0=-i0 * cw,
        y0=-j0 * ch,
        sprite=sprite,
        title=escape(title),
        label0=label0,
        label1=label1,
        v0=v0,
        v1=v1,
        aria=f"decoded image at {label0} = {v0}, {label1} = {v1}",
        values=json.dumps(shown),
    )


def table_html(headers: Sequence[str], rows: Sequence[Sequence], caption: str | None = None) -> str:
    """A small HTML table for a chapter's results (the book has no pandas dependency).

    Numbers are shown as given; format them first (f"{x:.1f}"). Cells are HTML-escaped.
    """
    from html import escape

    width = len(headers)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"every row needs {width} cells, got {len(row)}: {row!r}")
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="vae-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
