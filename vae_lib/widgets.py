"""The live latent explorer: one ipywidgets slider per latent unit, decoded in the kernel.

Every slider move decodes the code again in the running kernel, so it works for any latent
size, but only with a kernel (Jupyter, Colab, Binder). The built book has none: there the same
output shows `vae_lib.display.explorer_html`, the same layout decoded in the page itself. Both
go out in one display bundle; Jupyter draws the widget, the book (its `nb_mime_priority_overrides`
in `_config.yml`) the HTML. Shown in `book/10_latent_space.ipynb`. Works with ipywidgets 7.7
(Colab's) and 8.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import torch
from torch import Tensor, nn

from .device import model_device
from .display.explorers import explorer_html
from .display.html import image_png

# A slider's tooltip is its label's title, which names it for assistive technology (the book's
# _ext/vendor/widgets-config.js copies it onto the slider): `description_tooltip` in ipywidgets 7.
_TOOLTIP = (
    "tooltip" if "tooltip" in widgets.FloatSlider.class_trait_names() else "description_tooltip"
)


@torch.no_grad()
def decode_png(model: nn.Module, z: Tensor | Sequence[float], scale: int = 1,
               label: int | None = None) -> bytes:
    """Decode one latent code into the mean image as PNG bytes: the live explorer's picture.

    A model that takes a label (`LabelCVAE`) decodes with `label`."""
    code = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1).to(model_device(model))
    image = model.decode(code) if label is None else model.decode(code, int(label))
    return image_png(image[0], scale)


class LatentExplorer(widgets.HBox):
    """Sliders, one per latent unit, beside the image the decoder makes of the code they set.

    `sliders[j]` holds z_j and `image` the decoded picture (PNG bytes in `image.value`); moving a
    slider, in the browser or by setting `.value` from Python, decodes again. `code()` returns the
    current z. `start` is the first code shown (the prior mean 0 unless given; a test image's
    posterior mean starts from a real digit). A model that takes a label (`LabelCVAE`) gets a
    `labels` dropdown beside the sliders, `label` the first one shown (0 unless given), named
    by `label_names`. Explained in `book/10_latent_space.ipynb` and, with a label,
    `book/20_conditional_vae.ipynb`.
    """

    def __init__(
        self,
        model: nn.Module,
        start: Tensor | Sequence[float] | None = None,
        span: float = 3.0,
        step: float = 0.05,
        scale: int = 5,
        label: int | None = None,
        label_names: Sequence[str] | None = None,
    ):
        latent, count = int(model.latent_dim), int(getattr(model, "n_labels", 0) or 0)
        if count:
            label = 0 if label is None else label
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < count:
                raise ValueError(f"label must be a whole number in 0..{count - 1}, got {label!r}")
            names = [str(n) for n in (label_names or range(count))]
            if len(names) != count:
                raise ValueError(f"label_names must name all {count} labels, got {len(names)}")
        elif label is not None:
            raise ValueError(f"{type(model).__name__} takes no label")
        start_code = (
            torch.zeros(latent) if start is None else torch.as_tensor(start).float().reshape(-1)
        )
        if start_code.shape[0] != latent:
            raise ValueError(f"start must have {latent} entries, got {start_code.shape[0]}")
        if span <= 0:
            raise ValueError(f"span must be > 0, got {span}")
        self.model = model.eval()
        self.scale, self.span, self.step = scale, span, step
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
        self.labels = None
        if count:
            self.labels = widgets.Dropdown(
                options=[(name, c) for c, name in enumerate(names)], value=label,
                description="label", layout=widgets.Layout(width="200px"),
                **{_TOOLTIP: "label the decoder is given"},
            )
            self.label_names = names
        self.image = widgets.Image(
            format="png", value=decode_png(model, self.code(), scale, self.label()))
        for control in [*self.sliders, *([self.labels] if self.labels else [])]:
            control.observe(self._redraw, names="value")
        panel = widgets.GridBox(
            self.sliders + ([self.labels] if self.labels else []),
            layout=widgets.Layout(grid_template_columns=f"repeat({columns}, {width})"),
        )
        super().__init__([self.image, panel], layout=widgets.Layout(align_items="center"))

    def code(self) -> Tensor:
        """The latent code the sliders currently set, shape (latent_dim,)."""
        return torch.tensor([s.value for s in self.sliders], dtype=torch.float32)

    def label(self) -> int | None:
        """The label the dropdown sets, or None for a model that takes none."""
        return None if self.labels is None else int(self.labels.value)

    def html(self) -> str:
        """The in-page explorer for the current code: what a page without a kernel shows.

        Explained in `book/10_latent_space.ipynb`.
        """
        names = self.label_names if self.labels is not None else None
        return explorer_html(self.model, self.code(), self.span, self.step, self.scale,
                             label=self.label(), label_names=names)

    def _repr_mimebundle_(self, **kwargs):
        """The widget's own bundle (its view, its text) plus `text/html`: the in-page explorer."""
        parent = getattr(super(), "_repr_mimebundle_", None)  # ipywidgets 8; 7 has none
        data = parent(**kwargs) if parent else {
            "text/plain": repr(self)[:110],
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self._model_id},
        }
        return {**(data or {}), "text/html": self.html()}

    if hasattr(widgets.Widget, "_ipython_display_"):  # ipywidgets 7 displays itself

        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)
            self._handle_displayed(**kwargs)

    def _redraw(self, change=None) -> None:
        self.image.value = decode_png(self.model, self.code(), self.scale, self.label())
