"""A membership card's front as a PNG (Pillow; QR code from segno): 1012 x 638 px, ID-1 at 300 dpi, for a phone's
screen or a message. Fonts: the Bitstream Vera faces ReportLab ships (no system font needed, the same everywhere).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import reportlab
import segno
from PIL import Image, ImageDraw, ImageFont

from shared.cards import model
from shared.cards.model import Card, fit, latin, tanggal

WIDTH, HEIGHT = 1012, 638
_FONTS = Path(reportlab.__file__).parent / "fonts"
GREEN = (0, 96, 58)
INK = (26, 26, 26)
GREY = (77, 77, 77)
PAD = 36
BAND = 106
QR_SIDE = 270


def qr_image(url: str, scale: int) -> Image.Image:
    """The QR code (segno, level M) of ``url`` as a greyscale image, ``scale`` pixels per module, 4-module quiet zone.

    The mask is fixed: every mask decodes, and segno's search for the best one is 90 % of the time of a card (a
    desa's batch of 2,000 took over a minute with it)."""
    code = segno.make(url, error="m", mask=4, boost_error=False)
    size = len(code.matrix)
    pixels = bytes(0 if dark else 255 for row in code.matrix for dark in row)
    modules = Image.frombytes("L", (size, size), pixels)
    framed = Image.new("L", (size + 8, size + 8), 255)
    framed.paste(modules, (4, 4))
    return framed.resize(((size + 8) * scale, (size + 8) * scale), Image.Resampling.NEAREST)


@lru_cache(maxsize=64)
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONTS / ("VeraBd.ttf" if bold else "Vera.ttf")), size)


def _measure(bold: bool) -> model.Measure:
    return lambda text, size: float(_font(bold, round(size)).getlength(text))


def _text(draw: ImageDraw.ImageDraw, lines: list[str], x: int, y: int, bold: bool, size: float, fill: object) -> int:
    font = _font(bold, round(size))
    for line in lines:
        draw.text((x, y), line, font=font, fill=fill)  # type: ignore[arg-type]  # an RGB tuple is a colour
        y += round(size * 1.2)
    return y


def card_png(card: Card) -> bytes:
    """The front of ``card`` as PNG bytes: title band, name, KPJ, programme, funding source, start, desa, QR code."""
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, WIDTH - 1, HEIGHT - 1), radius=36, outline=GREY, width=3)
    draw.rectangle((0, 0, WIDTH, BAND), fill=GREEN)
    draw.text((PAD, 18), model.TITLE, font=_font(True, 44), fill="white")
    draw.text((PAD, 70), latin(model.SUBTITLE), font=_font(False, 26), fill="white")
    modules = segno.make(card.qr_url, error="m", mask=4, boost_error=False).symbol_size(border=4)[0]
    code = qr_image(card.qr_url, max(1, QR_SIDE // int(modules)))
    side = code.size[0]
    qr_x, qr_y = WIDTH - PAD - side, HEIGHT - PAD - 40 - side
    img.paste(code.convert("RGB"), (qr_x, qr_y))
    caption = _font(False, 20)
    cw = caption.getlength(model.QR_CAPTION)
    draw.text((WIDTH - PAD - cw, HEIGHT - PAD - 28), model.QR_CAPTION, font=caption, fill=GREY)
    width = qr_x - 2 * PAD
    size, name = fit(latin(card.full_name), width, _measure(True), (46, 40, 34), 2)
    if len(name) > 2:  # a long name: three lines rather than a tiny font
        size, name = fit(latin(card.full_name), width, _measure(True), (30, 27, 24, 21), 3)
    y = _text(draw, name, PAD, BAND + 16, True, size, INK) + 4
    draw.text((PAD, y + 12), model.LABEL_KPJ, font=_font(False, 24), fill=GREY)
    draw.text((PAD + 110, y), latin(card.membership_number), font=_font(True, 40), fill=INK)
    y += 56
    for label, value in (
        (model.LABEL_PROGRAMME, card.programme),
        (model.LABEL_FUNDING, card.funding_source_name),
        (model.LABEL_START, tanggal(card.coverage_start)),
        (model.LABEL_DESA, card.desa_name),
    ):
        draw.text((PAD, y), label, font=_font(False, 20), fill=GREY)
        y += 24
        vsize, lines = fit(latin(value), width, _measure(False), (27, 24, 21), 2)
        y = _text(draw, lines, PAD, y, False, vsize, INK) + 4
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
