"""Latent explorers that decode in the web page: sliders, and a drag pad over the encoded data.

A static page has no kernel, so each explorer carries its decoder (`page_decoder`: the layers
and their weights) and a short JavaScript forward pass (`explorer.js`, styled by
`explorer.css`), inlined with it: no precomputed pictures, no request, so it answers from
file:// with the network off. The root element carries `data-vae-explorer`, `data-kind`
("sliders" or "pad"), `data-z` (the code shown, full precision) and `data-model` (the decoder's
fingerprint): the contract the browser tests and `benchmarks/explorer_latency.py` rely on.
The picture is a canvas as large as the image, drawn with square pixels. Explained in
`book/10_latent_space.ipynb`.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from functools import lru_cache
from html import escape
from pathlib import Path

import torch
from torch import Tensor, nn

from ..explore import posterior_means
from .page_decoder import page_decoder, weight_bytes

HERE = Path(__file__).resolve().parent
MAX_WEIGHT_CHARS = 2_000_000  # what one explorer may carry in the page (the 2 MB limit)


@lru_cache(maxsize=1)
def _runtime() -> str:
    """The stylesheet and the script, once per explorer (a page defines the script once)."""
    css = (HERE / "explorer.css").read_text()
    js = (HERE / "explorer.js").read_text()
    return f"<style>{css}</style>\n<script>{js}</script>"


def _element_id(element_id: str | None) -> str:
    uid = element_id or f"vae-x-{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", uid):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', got {uid!r}")
    return uid


def _check_range(span: float, step: float, scale: int) -> None:
    if not span > 0 or not 0 < step <= span:
        raise ValueError(f"need span > 0 and 0 < step <= span, got span={span}, step={step}")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale}")


def _start(model: nn.Module, start, span: float, step: float) -> list[float]:
    """The first code, clamped to the range and put on the sliders' grid of steps."""
    latent = int(model.latent_dim)
    code = torch.zeros(latent) if start is None else torch.as_tensor(start).float().reshape(-1)
    if code.shape[0] != latent:
        raise ValueError(f"start must have {latent} entries, got {code.shape[0]}")
    code = (code.clamp(-span, span) / step).round() * step
    return [round(v, 6) + 0.0 for v in code.tolist()]


def _model_block(cfg: dict, uid: str) -> str:
    data = json.dumps(cfg, separators=(",", ":")).replace("</", "<\\/")
    return (f'<script type="application/json" class="vae-x-model">{data}</script></div>\n'
            f'{_runtime()}\n<script>window.vaeBook.mount("{uid}");</script>')


def _decoder(model: nn.Module, span: float) -> dict:
    decoder = page_decoder(model, span)
    size = weight_bytes(decoder)
    if size > MAX_WEIGHT_CHARS:
        raise ValueError(f"this decoder needs {size:,} characters of weights in the page,"
                         f" more than {MAX_WEIGHT_CHARS:,}: use a smaller model")
    return decoder


def _canvas(decoder: dict, scale: int, label: str, extra: str = "") -> str:
    _, h, w = decoder["shape"]
    return (f'<canvas class="vae-x-image" width="{w}" height="{h}" role="img"'
            f' aria-label="{escape(label)}"{extra}'
            f' style="width:{w * scale}px; height:{h * scale}px;"></canvas>')


def _fmt(v: float) -> str:
    return f"{round(v, 2) + 0.0:.2f}"


def _label_select(uid: str, count: int, label: int | None, names: list[str] | None) -> str:
    """A labelled <select> of the decoder's labels (keyboard operable), or "" without labels."""
    if not count:
        if label is not None:
            raise ValueError("this decoder takes no label")
        return ""
    names = [str(c) for c in range(count)] if names is None else [str(n) for n in names]
    if len(names) != count:
        raise ValueError(f"label_names must name all {count} labels, got {len(names)}")
    options = "".join(f'<option value="{c}"{" selected" if c == label else ""}>'
                      f"{escape(name)}</option>" for c, name in enumerate(names))
    return (f'<label class="vae-x-slider vae-x-choice"><span>label</span>'
            f'<select id="{uid}-label" aria-label="label the decoder is given">{options}'
            "</select></label>")


def _check_label(label: int | None, count: int) -> int | None:
    if not count:
        return label
    label = 0 if label is None else label
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < count:
        raise ValueError(f"label must be a whole number in 0..{count - 1}, got {label!r}")
    return label


def explorer_html(model: nn.Module, start: Tensor | None = None, span: float = 3.0,
                  step: float = 0.05, scale: int = 5, title: str | None = None,
                  element_id: str | None = None, label: int | None = None,
                  label_names: list[str] | None = None) -> str:
    """One slider per latent unit beside the decoded picture, decoded in the page at every move.

    The layout of `vae_lib.widgets.LatentExplorer`, which shows this on a page without a kernel.
    The picture takes the focus; its arrow keys move the first two sliders. A decoder that
    takes a label (`LabelCVAE`) gets a labelled selector of it after the sliders, `label` the
    one shown first (0 unless given). Explained in `book/10_latent_space.ipynb` and, with a
    label, `book/20_conditional_vae.ipynb`.
    """
    _check_range(span, step, scale)
    uid, decoder = _element_id(element_id), _decoder(model, span)
    code = _start(model, start, span, step)
    label = _check_label(label, decoder["labels"])
    select = _label_select(uid, decoder["labels"], label, label_names)
    names = label_names or [str(c) for c in range(decoder["labels"])]
    shown = ", ".join(f"z{j + 1} = {_fmt(v)}" for j, v in enumerate(code))
    if select:
        shown = f"label {names[label]}, {shown}"
    keys = ("left and right change z1" + (", down and up change z2" if len(code) > 1 else ""))
    sliders = "".join(
        f'<label class="vae-x-slider"><span>z{j + 1}</span><input type="range" min="{-span}"'
        f' max="{span}" step="{step}" value="{v}" data-unit="{j}" aria-label="latent z{j + 1}">'
        f"<output>{_fmt(v)}</output></label>"
        for j, v in enumerate(code))
    head = f"<strong>{escape(title)}</strong>" if title else ""
    cfg = {"kind": "sliders", "start": code, "span": span, "step": step, "decoder": decoder,
           "label": label, "names": names}
    with_label = "" if label is None else f' data-label="{label}"'
    return (
        f'<div id="{uid}" class="vae-x" data-vae-explorer="" data-kind="sliders"'
        f' data-model="{decoder["model"]}" data-z="{",".join(map(str, code))}"{with_label}>'
        + _canvas(decoder, scale, f"decoded image at {shown}",
                  f' tabindex="0" aria-describedby="{uid}-keys"')
        + f'<div class="vae-x-panel">{head}<div class="vae-x-grid"'
        f' style="--vae-x-cols: {1 if len(code) <= 10 else 2};">{sliders}{select}</div>'
        f'<small id="{uid}-keys">On the picture, the arrow keys move the point: {keys}.</small>'
        "</div>" + _model_block(cfg, uid)
    )


def drag_pad_html(model: nn.Module, images: Tensor, labels: Tensor | None = None,
                  class_names: list[str] | None = None, span: float = 3.0, step: float = 0.05,
                  scale: int = 5, start: Tensor | None = None, title: str | None = None,
                  max_points: int = 10_000, element_id: str | None = None) -> str:
    """A 2-D model's latent plane: the posterior means of `images` as dots coloured by label
    (the aggregate posterior, holes included), a point to drag or move with the arrow keys,
    and the image the decoder makes of it, decoded in the page at every move.

    Without labels the dots share one colour (Frey Face has none). Explained in
    `book/10_latent_space.ipynb`.
    """
    _check_range(span, step, scale)
    if int(model.latent_dim) != 2:
        raise ValueError(f"the drag pad needs a 2-d latent space, got {model.latent_dim}-d")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if len(images) == 0:
        raise ValueError("the drag pad needs at least one image to encode")
    uid, decoder = _element_id(element_id), _decoder(model, span)
    if decoder["labels"]:
        raise ValueError("the drag pad draws unlabelled decoders; use explorer_html")
    codes = posterior_means(model, images[:max_points]).float()
    labelled = labels is not None
    labels = torch.as_tensor(labels)[:max_points].long().cpu() if labelled else torch.zeros(
        len(codes), dtype=torch.long)
    if labels.shape != (len(codes),) or labels.min() < 0 or labels.max() > 255:
        raise ValueError("labels must be one integer in 0..255 per image")
    code = _start(model, start, span, step)
    inside = int((codes.abs() <= span).all(dim=1).sum())
    names = class_names or [str(c) for c in range(int(labels.max()) + 1)]
    legend = "" if not labelled else (
        '<ul class="vae-x-legend" aria-label="labels of the dots">' + "".join(
            f'<li><span class="vae-x-swatch" style="background:{COLOURS[c % 10]};"></span>'
            f"{escape(str(name))}</li>" for c, name in enumerate(names)) + "</ul>")
    shown = f"z1 = {_fmt(code[0])}, z2 = {_fmt(code[1])}"
    points = base64.b64encode(codes.half().numpy().astype("<f2").tobytes()).decode("ascii")
    marks = base64.b64encode(labels.to(torch.uint8).numpy().tobytes()).decode("ascii")
    cfg = {"kind": "pad", "start": code, "span": span, "step": step, "decoder": decoder,
           "points": points, "labels": marks}
    head = f"<strong>{escape(title)}</strong>" if title else ""
    return (
        f'<div id="{uid}" class="vae-x vae-x-with-pad" data-vae-explorer="" data-kind="pad"'
        f' data-model="{decoder["model"]}" data-z="{code[0]},{code[1]}">'
        f'<div class="vae-x-panel vae-x-pad-panel">{head}'
        '<div class="vae-x-pad" role="slider" tabindex="0"'
        f' aria-label="point in the latent plane" aria-valuemin="{-span}" aria-valuemax="{span}"'
        f' aria-valuenow="{_fmt(code[0])}" aria-valuetext="{shown}"'
        f' aria-describedby="{uid}-about {uid}-keys">'
        '<canvas class="vae-x-dots" width="600" height="600" aria-hidden="true"></canvas>'
        '<div class="vae-x-marker"></div></div>'
        f'<div class="vae-x-axes" aria-hidden="true"><span>{-span:g}</span>'
        f"<span>z1 across, z2 up</span><span>{span:g}</span></div>{legend}"
        f'<small id="{uid}-about">Each dot is the posterior mean of one of {len(codes):,} test'
        f" images ({inside:,} of them inside the square shown); the ring is the code decoded"
        " beside it.</small>"
        f'<small id="{uid}-keys">Drag the ring, or focus the square and use the arrow keys'
        " (with Shift, ten steps at a time).</small></div>"
        f'<div class="vae-x-panel">{_canvas(decoder, scale, f"decoded image at {shown}")}'
        f'<output class="vae-x-readout">{shown}</output></div>' + _model_block(cfg, uid)
    )


COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]  # matplotlib's tab10, as explorer.js draws the dots
