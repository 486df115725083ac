"""What chapters show in a page without a kernel: HTML tables, inline images, the static explorer.

html             table_html, image_png, gif_bytes, gif_html (data URIs: no file beside the page)
static_explorer  static_explorer_html: a latent explorer as a sprite sheet, template in
                 static_explorer.html
"""

from .html import gif_bytes, gif_html, image_png, table_html, to_uint8
from .static_explorer import sprite_sheet, static_explorer_html

__all__ = [
    "gif_bytes", "gif_html", "image_png", "sprite_sheet", "static_explorer_html", "table_html",
    "to_uint8",
]
