"""What chapters show in a page without a kernel: HTML tables, inline images, in-page explorers.

html          table_html, image_png, gif_bytes, gif_html (data URIs: no file beside the page)
explorers     explorer_html (sliders), drag_pad_html (a 2-d latent plane): decoded in the page
              by explorer.js, styled by explorer.css
page_decoder  page_decoder: a model's decoder as layers and weights the page runs
"""

from .explorers import drag_pad_html, explorer_html
from .html import gif_bytes, gif_html, image_png, table_html, to_uint8
from .page_decoder import page_decoder

__all__ = [
    "drag_pad_html", "explorer_html", "gif_bytes", "gif_html", "image_png", "page_decoder",
    "table_html", "to_uint8",
]
