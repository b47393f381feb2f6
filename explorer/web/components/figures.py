"""Inlined images for the Maths tab: a wide image (a strip or a grid of decodes, shown at its own size, not squared
like figure_html's) and a row of captioned images. Their CSS is figures.css beside this module."""
from explorer.figures.pictures import data_uri
from explorer.web.components.image import figure_html


def wide_figure_html(image, caption: str, elem_class: str = "vx-wide") -> str:
    """An image at its own pixel size (pass it enlarged), with its caption."""
    return (f'<figure class="{elem_class}"><img src="{data_uri(image)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def figure_row(images_and_captions) -> str:
    """figure_html images side by side."""
    return '<div class="vx-row">' + "".join(figure_html(im, c) for im, c in images_and_captions) + "</div>"
