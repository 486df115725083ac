"""Small HTML and image encoders for pages that carry their own pictures (data URIs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape

import torch
from torch import Tensor


def to_uint8(image: Tensor) -> Tensor:
    """One decoded image (1, H, W) or (H, W) in [0, 1] as an (H, W) uint8 tensor.

    The grey levels of the PNGs of the live explorer (`vae_lib.widgets`), rounded as the
    in-page explorers' script rounds them.
    """
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
    PNG takes well under a millisecond, so a slider of the live explorer (`vae_lib.widgets`)
    can redraw on every move.
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


def gif_bytes(frames: Sequence, seconds_per_frame: float = 0.5) -> bytes:
    """Encode PIL frames as a looping animated GIF, in memory.

    Chapters show the GIF inline (see `gif_html`) instead of writing a file next to the
    notebook; `python -m vae_lib train` writes the same bytes to a file.
    """
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    buffer = io.BytesIO()
    first, *rest = frames
    first.save(
        buffer, format="GIF", save_all=True, append_images=rest,
        duration=int(seconds_per_frame * 1000), loop=0,
    )
    return buffer.getvalue()


def gif_html(frames: Sequence, seconds_per_frame: float = 0.5, alt: str = "animation",
             width: int | None = None) -> str:
    """An `<img>` holding the GIF as a data URI: the built page carries it, no file needed.

    Explained in `book/09_conv_vae.ipynb`.
    """
    encoded = base64.b64encode(gif_bytes(frames, seconds_per_frame)).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    return (
        f'<img src="data:image/gif;base64,{encoded}" alt="{escape(alt)}"{size}'
        ' style="image-rendering: pixelated;">'
    )


def table_html(headers: Sequence[str], rows: Sequence[Sequence], caption: str | None = None) -> str:
    """A small HTML table for a chapter's results (the book has no pandas dependency).

    Numbers are shown as given; format them first (f"{x:.1f}"). Cells are HTML-escaped.
    Used in `book/09_conv_vae.ipynb` and `book/11_beta_vae.ipynb`.
    """
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
