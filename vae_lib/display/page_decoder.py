"""A decoder the web page runs itself: its layers as a list of operations and weights.

The built book has no kernel, so its explorers carry the decoder into the page and run it in
JavaScript (`explorer.js`) on every slider move: no precomputed pictures, no network, and it
works from file:// too. This module turns a model's decoder (the `Linear`, `ConvTranspose2d`,
`ReLU`, `Tanh` layers of the book's MLP and convolutional VAEs, then the sigmoid of `decode`)
into that list, stores the weights as float16 when the page's pictures stay within half a grey
level of torch's (float32 otherwise), and checks the result against `model.decode` before any
page gets it. `run_layers` is the same arithmetic in Python, the reference the tests hold the
JavaScript to. The page's explorers are explained in `book/10_latent_space.ipynb`.
"""

from __future__ import annotations

import base64
import hashlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..device import model_device

# Half a grey level: a page that rounds to the nearest of 256 levels is then within one level
# (1/255) of torch's picture, the parity the browser tests require.
MAX_PIXEL_ERROR = 0.5 / 255
DTYPES = {"f16": torch.float16, "f32": torch.float32}
ELEMENTWISE = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}


def _decoder_modules(model: nn.Module) -> list[nn.Module]:
    """The modules `decode` runs, in order: `decoder`, then `to_pixels` where the model has one."""
    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, nn.Sequential):
        raise ValueError(f"{type(model).__name__} has no `decoder` Sequential to put in a page")
    extra = [model.to_pixels] if isinstance(getattr(model, "to_pixels", None), nn.Module) else []
    return [*decoder, *extra]


def _layer(module: nn.Module, shape: tuple[int, ...]) -> dict:
    """One page operation for `module`, whose input has `shape` (without the batch)."""
    if isinstance(module, nn.Linear):
        return {"op": "linear", "in": module.in_features, "out": module.out_features,
                "w": module.weight.detach(), "b": _bias(module, module.out_features)}
    if isinstance(module, nn.ConvTranspose2d):
        if module.groups != 1 or module.dilation != (1, 1) or module.padding_mode != "zeros":
            raise ValueError("the page runs ConvTranspose2d with groups=1, dilation=1 only")
        (kh, kw), (sh, sw), (ph, pw) = module.kernel_size, module.stride, module.padding
        if not (kh == kw and sh == sw and ph == pw and len(set(module.output_padding)) == 1):
            raise ValueError("the page runs square ConvTranspose2d kernels, strides and padding")
        if len(shape) != 3:
            raise ValueError(f"ConvTranspose2d needs a (C, H, W) input, got shape {shape}")
        hout = (shape[1] - 1) * sh - 2 * ph + kh + module.output_padding[0]
        wout = (shape[2] - 1) * sw - 2 * pw + kw + module.output_padding[1]
        return {"op": "convT", "cin": module.in_channels, "cout": module.out_channels, "k": kh,
                "stride": sh, "pad": ph, "outpad": module.output_padding[0], "hin": shape[1],
                "win": shape[2], "hout": hout, "wout": wout, "w": module.weight.detach(),
                "b": _bias(module, module.out_channels)}
    for kind, op in ELEMENTWISE.items():
        if type(module) is kind:
            return {"op": op}
    if isinstance(module, (nn.Unflatten, nn.Flatten, nn.Identity)):
        return {"op": "reshape"}  # the page keeps every activation as one flat array
    raise ValueError(f"the page cannot run a {type(module).__name__} layer")


def _bias(module: nn.Module, size: int) -> Tensor:
    return module.bias.detach() if module.bias is not None else torch.zeros(size)


def _labels_of(model: nn.Module) -> int:
    """How many labels a conditional decoder takes (`LabelCVAE.n_labels`); 0 for the others."""
    return int(getattr(model, "n_labels", 0) or 0)


@torch.no_grad()
def decoder_layers(model: nn.Module) -> list[dict]:
    """The decoder as page operations with float32 weights on the CPU, the sigmoid last.

    Shapes are traced with one zero code, so a transposed convolution knows its input size.
    A decoder given a one-hot label ([z, e_y] into its first `Linear`) keeps that layer's
    weights for z only and one bias per label, "lb" (labels, out) = b + W[:, latent + y]:
    the page swaps the bias when the label changes. `page_decoder` rounds and encodes them;
    the tests run them with `run_layers`.
    """
    latent, labels = int(model.latent_dim), _labels_of(model)
    x = torch.zeros(1, latent + labels, device=model_device(model))
    layers = []
    for module in _decoder_modules(model):
        layer = _layer(module, tuple(x.shape[1:]))
        layers.append({k: v.float().cpu() if isinstance(v, Tensor) else v
                       for k, v in layer.items()})
        x = module(x)
    if labels:
        first = layers[0]
        if first["op"] != "linear" or first["in"] != latent + labels:
            raise ValueError("a labelled decoder must start with a Linear of [z, one-hot label]")
        w = first["w"]
        layers[0] = {**first, "in": latent, "w": w[:, :latent].contiguous(),
                     "lb": (first["b"] + w[:, latent:].T).contiguous()}
    return [*layers, {"op": "sigmoid"}]


def run_layers(layers: list[dict], z: Tensor, labels: Tensor | None = None) -> Tensor:
    """The page's forward pass in float64: codes (n, J) -> flat images (n, pixels).

    The same operations and weights the JavaScript runs, so the tests can hold the page to it;
    `page_decoder` uses it to choose float16 or float32. A labelled decoder (a layer with "lb")
    needs `labels`, one per code: that layer adds the label's bias.
    """
    x = torch.as_tensor(z, dtype=torch.float64)
    for layer in layers:
        op = layer["op"]
        if op == "linear":
            bias = layer["b"].double()
            if "lb" in layer:
                table = layer["lb"].double()
                if labels is None:
                    raise ValueError("this decoder is labelled: run_layers needs the labels")
                y = torch.as_tensor(labels).long().reshape(-1)
                if y.shape[0] != x.shape[0] or int(y.min()) < 0 or int(y.max()) >= len(table):
                    raise ValueError(f"labels must be one of 0..{len(table) - 1} per code")
                bias = table[y]
            x = x.reshape(x.shape[0], -1) @ layer["w"].double().T + bias
        elif op == "convT":
            x = x.reshape(x.shape[0], layer["cin"], layer["hin"], layer["win"])
            x = F.conv_transpose2d(x, layer["w"].double(), layer["b"].double(),
                                   stride=layer["stride"], padding=layer["pad"],
                                   output_padding=layer["outpad"])
        elif op in ("relu", "tanh", "sigmoid"):
            x = getattr(torch, op)(x)
        elif op != "reshape":
            raise ValueError(f"unknown page operation {op!r}")
    return x.reshape(x.shape[0], -1)


def _rounded(layers: list[dict], dtype: str) -> list[dict]:
    """The layers with their weights rounded to `dtype`, as the page will hold them."""
    kind = DTYPES[dtype]
    return [{k: v.to(kind).float() if isinstance(v, Tensor) else v for k, v in layer.items()}
            for layer in layers]


def parity_codes(latent: int, span: float, n: int = 64, seed: int = 0) -> Tensor:
    """Codes to check a page decoder on: the corners of [-span, span]^J first, then uniform ones.

    `page_decoder` checks its rounded weights on them: the corners are where codes are largest.
    """
    generator = torch.Generator().manual_seed(seed)
    corners = torch.tensor([[span] * latent, [-span] * latent,
                            [span * (-1) ** j for j in range(latent)]])
    inside = (torch.rand(n, latent, generator=generator) * 2 - 1) * span
    return torch.cat([corners, inside])


@torch.no_grad()
def page_decoder(model: nn.Module, span: float = 3.0) -> dict:
    """What a page needs to decode: operations, base64 weights, image shape, weight format.

    float16 when, on `parity_codes` within the explorer's range, the rounded weights keep every
    pixel within `MAX_PIXEL_ERROR` of `model.decode`; float32 otherwise; a ValueError when even
    float32 does not match (a decoder whose `decode` is not the sigmoid of these layers).
    Explained in `book/10_latent_space.ipynb`.
    """
    if not span > 0:
        raise ValueError(f"span must be > 0, got {span}")
    model.eval()
    layers, labels = decoder_layers(model), _labels_of(model)
    codes = parity_codes(int(model.latent_dim), span)
    y = None
    if labels:  # every code with every label
        y = torch.arange(labels).repeat_interleave(len(codes))
        codes = codes.repeat(labels, 1)
        reference = model.decode(codes.to(model_device(model)), y.to(model_device(model)))
    else:
        reference = model.decode(codes.to(model_device(model)))
    reference = reference.double().cpu()
    shape = [int(s) for s in reference.shape[1:]]
    if shape[0] != 1:
        raise ValueError(f"the page draws single-channel images, got shape {tuple(shape)}")
    reference = reference.reshape(len(codes), -1)
    for dtype in DTYPES:
        error = (run_layers(_rounded(layers, dtype), codes, y) - reference).abs().max().item()
        if error <= MAX_PIXEL_ERROR:
            break
    else:
        raise ValueError(f"{type(model).__name__}.decode is not the page's decoder"
                         f" (pixel error {error:.3g})")
    return {"latent": int(model.latent_dim), "labels": labels, "shape": shape, "dtype": dtype,
            "error": float(f"{error:.3g}"), "model": decoder_fingerprint(model),
            "layers": [{k: _b64(v, dtype) if isinstance(v, Tensor) else v for k, v in lay.items()}
                       for lay in layers]}


def _b64(tensor: Tensor, dtype: str) -> str:
    """Little-endian bytes of the tensor in `dtype`, base64 (JSON carries text)."""
    little = "<f2" if dtype == "f16" else "<f4"
    data = tensor.contiguous().to(DTYPES[dtype]).numpy().astype(little)
    return base64.b64encode(data.tobytes()).decode("ascii")


def decoder_fingerprint(model: nn.Module) -> str:
    """sha256 (16 hex digits) of the decoder's float32 weights: which trained model a page shows.

    The browser tests find the checkpoint with the same fingerprint and decode with torch, so
    the page is compared with the trained model itself, not with its own copy of the weights.
    """
    digest = hashlib.sha256()
    for layer in decoder_layers(model):
        for key in ("w", "b", "lb"):
            if key in layer:
                digest.update(layer[key].numpy().astype("<f4").tobytes())
    return digest.hexdigest()[:16]


def weight_bytes(payload: dict) -> int:
    """Characters of base64 weights a page decoder carries (what the 2 MB limit counts)."""
    return sum(len(v) for layer in payload["layers"] for k, v in layer.items()
               if k in ("w", "b", "lb"))

