"""A latent explorer for the built book, which has no kernel and must need no network.

It decodes a grid of codes ahead of time, packs the pictures into one sprite-sheet PNG embedded
as a data URI, and adds two range inputs and a few lines of JavaScript that move the sprite
(CSS `background-position`); the HTML and JavaScript live in `static_explorer.html`. Its root
element carries `data-vae-explorer` and `data-cell="i,j"` (the grid cell shown), the contract
the browser tests in `tests/browser/` rely on. The picture (`role="img"`, its `aria-label` the
code shown) takes the keyboard focus, and the arrow keys move the point: left/right the first
slider, down/up the second. Shown in `book/10_latent_space.ipynb`.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from html import escape
from pathlib import Path
from string import Template

import torch
from torch import Tensor, nn

from ..device import model_device
from ..explore import axis_values
from .html import to_uint8

TEMPLATE = Path(__file__).with_name("static_explorer.html")


@torch.no_grad()
def sprite_sheet(
    model: nn.Module,
    values: Tensor,
    dims: tuple[int, int] = (0, 1),
    base: Tensor | None = None,
) -> Tensor:
    """Decode the grid of codes and tile it: cell (i, j) -> column i, row j, as (n*H, n*W) uint8.

    Cell (i, j) holds the decoded image at z[dims[0]] = values[i], z[dims[1]] = values[j], the
    other units at `base` (zeros unless given). Used by `static_explorer_html` (chapter 10).
    """
    latent = int(model.latent_dim)
    if len(set(dims)) != 2 or not all(0 <= d < latent for d in dims):
        raise ValueError(f"dims must be two different units of the {latent}-d latent, got {dims}")
    n = values.shape[0]
    base = torch.zeros(latent) if base is None else torch.as_tensor(base).float().reshape(-1)
    codes = base.cpu().repeat(n, n, 1)  # codes[j, i] -> row j, column i
    codes[:, :, dims[0]] = values.reshape(1, n)
    codes[:, :, dims[1]] = values.reshape(n, 1)
    model.eval()
    images = model.decode(codes.reshape(-1, latent).to(model_device(model))).cpu()
    if images.shape[1] != 1:
        raise ValueError("the static explorer draws single-channel images only")
    h, w = images.shape[-2:]
    tiles = images.reshape(n, n, h, w).permute(0, 2, 1, 3).reshape(n * h, n * w)
    return to_uint8(tiles)


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
    Explained in `book/10_latent_space.ipynb`.
    """
    from PIL import Image

    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    uid = element_id or f"vae-explorer-{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", uid):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', got {uid!r}")
    values = axis_values(n, span, grid)
    sheet = sprite_sheet(model, values, dims, base)
    shown = [round(v, 4) + 0.0 for v in values.tolist()]  # + 0.0 turns -0.0 into 0.0
    buffer = io.BytesIO()
    Image.fromarray(sheet.numpy(), mode="L").save(buffer, format="PNG", optimize=True)
    h, w = sheet.shape[0] // n, sheet.shape[1] // n
    cw, ch = w * scale, h * scale
    i0 = j0 = n // 2
    label0, label1 = f"z{dims[0] + 1}", f"z{dims[1] + 1}"
    v0, v1 = f"{shown[i0]:.2f}", f"{shown[j0]:.2f}"
    return Template(TEMPLATE.read_text()).substitute(
        uid=uid, i0=i0, j0=j0, n=n, last=n - 1, cw=cw, ch=ch, sw=n * cw, sh=n * ch,
        x0=-i0 * cw, y0=-j0 * ch, sprite=base64.b64encode(buffer.getvalue()).decode("ascii"),
        title=escape(title), label0=label0, label1=label1, v0=v0, v1=v1,
        aria=f"decoded image at {label0} = {v0}, {label1} = {v1}", values=json.dumps(shown),
    ).split("-->\n", 1)[1]
