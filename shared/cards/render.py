"""Membership cards as PDF (ReportLab, built-in Helvetica): one card, front and back at ID-1 size (``card_pdf``), and
a desa's printable batch (``desa_batch_pdf``): A4 sheets of 8 cards with crop marks, each sheet of fronts followed
by its sheet of backs (mirrored for long-edge duplex printing), then the signed receipt list ("Tanda terima kartu"),
one line per member, sorted by name. The QR code (segno) is embedded as an image holding the card's URL.

``Card`` and the PNG renderer are re-exported here: ``from shared.cards.render import Card, card_pdf, card_png``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from shared.cards import model
from shared.cards.image import card_png, qr_image
from shared.cards.model import Card, fit, latin, tanggal

__all__ = ["CARD_H", "CARD_W", "PER_SHEET", "Card", "card_pdf", "card_png", "desa_batch_pdf"]

CARD_W, CARD_H = 85.6 * mm, 53.98 * mm  # ISO/IEC 7810 ID-1
GREEN = HexColor("#00603A")  # white on it: contrast 7.6:1
INK = HexColor("#1A1A1A")
GREY = HexColor("#4D4D4D")
REGULAR, BOLD = "Helvetica", "Helvetica-Bold"
PAD = 3 * mm
BAND_H = 9 * mm
QR_SIDE = 22 * mm
COLS, ROWS = 2, 4
PER_SHEET = COLS * ROWS
GAP = 6 * mm  # between cards on a sheet, room for the crop marks
MARK = 3 * mm


def _measure(font: str) -> model.Measure:
    return lambda text, size: float(stringWidth(text, font, size))


def _qr_image(url: str) -> ImageReader:
    return ImageReader(qr_image(url, 4))


def _lines(c: Canvas, lines: Sequence[str], x: float, y: float, font: str, size: float) -> float:
    """Draw ``lines`` downwards from baseline ``y``; the baseline below the last."""
    c.setFont(font, size)
    for line in lines:
        c.drawString(x, y, line)
        y -= size * 1.18
    return y


def _front(c: Canvas, card: Card, x: float, y: float) -> None:
    c.saveState()
    c.translate(x, y)
    c.setStrokeColor(GREY)
    c.setLineWidth(0.3)
    c.roundRect(0, 0, CARD_W, CARD_H, 3 * mm, stroke=1, fill=0)
    c.setFillColor(GREEN)
    c.rect(0, CARD_H - BAND_H, CARD_W, BAND_H, stroke=0, fill=1)
    c.setFillColor(white)
    c.setFont(BOLD, 9)
    c.drawString(PAD, CARD_H - 4.6 * mm, model.TITLE)
    c.setFont(REGULAR, 6)
    c.drawString(PAD, CARD_H - 7.4 * mm, latin(model.SUBTITLE))
    qr_x = CARD_W - PAD - QR_SIDE
    c.drawImage(_qr_image(card.qr_url), qr_x, PAD + 3 * mm, QR_SIDE, QR_SIDE)
    c.setFillColor(GREY)
    c.setFont(REGULAR, 4.6)
    c.drawRightString(CARD_W - PAD, PAD + 0.6 * mm, model.QR_CAPTION)
    width = qr_x - 2 * PAD
    c.setFillColor(INK)
    size, name = fit(latin(card.full_name), width, _measure(BOLD), (10, 9, 8, 7), 2)
    if len(name) > 2:  # a long name: three lines rather than a tiny font
        size, name = fit(latin(card.full_name), width, _measure(BOLD), (7, 6.5, 6, 5.5, 5), 3)
    y = _lines(c, name, PAD, CARD_H - BAND_H - 3.6 * mm, BOLD, size)
    y -= 0.6 * mm
    c.setFillColor(GREY)
    c.setFont(REGULAR, 5)
    c.drawString(PAD, y, model.LABEL_KPJ)
    c.setFillColor(INK)
    c.setFont(BOLD, 9)
    c.drawString(PAD + stringWidth(model.LABEL_KPJ, REGULAR, 5) + 1.5 * mm, y, latin(card.membership_number))
    y -= 3.4 * mm
    rows = (
        (model.LABEL_PROGRAMME, card.programme),
        (model.LABEL_FUNDING, card.funding_source_name),
        (model.LABEL_START, tanggal(card.coverage_start)),
        (model.LABEL_DESA, card.desa_name),
    )
    for label, value in rows:
        c.setFillColor(GREY)
        c.setFont(REGULAR, 4.6)
        c.drawString(PAD, y, label)
        y -= 2.1 * mm
        c.setFillColor(INK)
        vsize, vlines = fit(latin(value), width, _measure(REGULAR), (6.2, 5.6, 5), 2)
        y = _lines(c, vlines, PAD, y, REGULAR, vsize) - 0.5 * mm
    c.restoreState()


def _back(c: Canvas, card: Card, x: float, y: float) -> None:
    c.saveState()
    c.translate(x, y)
    c.setStrokeColor(GREY)
    c.setLineWidth(0.3)
    c.roundRect(0, 0, CARD_W, CARD_H, 3 * mm, stroke=1, fill=0)
    c.setFillColor(GREEN)
    c.setFont(BOLD, 7.5)
    c.drawString(PAD, CARD_H - PAD - 2.6 * mm, model.CLAIM_TITLE)
    c.setFillColor(INK)
    width = CARD_W - 2 * PAD
    texts = [latin(t) for t in model.claim_texts()]
    for size in (5.6, 5.2, 4.8, 4.4):  # the largest that fits the card
        blocks = [model.wrap(t, width, _measure(REGULAR), size) for t in texts]
        height = sum(len(b) for b in blocks) * size * 1.18 + len(blocks) * 1.2 * mm
        if height <= CARD_H - 2 * PAD - 7 * mm:
            break
    y = CARD_H - PAD - 6.4 * mm
    for block in blocks:
        y = _lines(c, block, PAD, y, REGULAR, size) - 1.2 * mm
    c.setFillColor(GREY)
    c.setFont(REGULAR, 4.6)
    c.drawString(PAD, PAD, latin(f"{model.LABEL_KPJ} {card.membership_number}"))
    c.restoreState()


def card_pdf(card: Card) -> bytes:
    """One member's card: page 1 the front, page 2 the back, each 85.6 x 54 mm (ID-1)."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(CARD_W, CARD_H), pageCompression=1)
    c.setTitle(latin(f"{model.TITLE} {card.membership_number}"))
    c.setAuthor("Payung")
    _front(c, card, 0, 0)
    c.showPage()
    _back(c, card, 0, 0)
    c.showPage()
    c.save()
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------- desa batch
_MARGIN_X = (A4[0] - COLS * CARD_W - (COLS - 1) * GAP) / 2
_MARGIN_Y = (A4[1] - ROWS * CARD_H - (ROWS - 1) * GAP) / 2


def _slot(index: int, mirrored: bool) -> tuple[float, float]:
    col, row = index % COLS, index // COLS
    if mirrored:  # the back of a card lands behind its front when the sheet is turned over its long edge
        col = COLS - 1 - col
    return _MARGIN_X + col * (CARD_W + GAP), A4[1] - _MARGIN_Y - (row + 1) * CARD_H - row * GAP


def _crop_marks(c: Canvas, x: float, y: float) -> None:
    c.setStrokeColor(INK)
    c.setLineWidth(0.25)
    for cx in (x, x + CARD_W):
        for cy in (y, y + CARD_H):
            dy = -1 if cy == y else 1
            dx = -1 if cx == x else 1
            c.line(cx, cy + dy * 1 * mm, cx, cy + dy * (1 * mm + MARK))
            c.line(cx + dx * 1 * mm, cy, cx + dx * (1 * mm + MARK), cy)


def _sheet_footer(c: Canvas, text: str) -> None:
    c.setFillColor(GREY)
    c.setFont(REGULAR, 7)
    c.drawCentredString(A4[0] / 2, 10 * mm, latin(text))


RECEIPT_TITLE = "Tanda terima kartu peserta BPJS Ketenagakerjaan"
RECEIPT_NOTE = "Dengan menandatangani, penerima menyatakan telah menerima kartunya."
_COLUMNS = (("No.", 12 * mm), ("Nama", 64 * mm), ("No. KPJ", 32 * mm), ("Tanda tangan", 40 * mm), ("Tanggal", 26 * mm))
_ROW_H = 9 * mm


def _receipt_header(c: Canvas, desa_name: str, printed_on: date, count: int, page: int) -> float:
    left = (A4[0] - sum(w for _, w in _COLUMNS)) / 2
    y = A4[1] - 18 * mm
    c.setFillColor(INK)
    c.setFont(BOLD, 12)
    c.drawString(left, y, RECEIPT_TITLE)
    c.setFont(REGULAR, 9)
    y -= 6 * mm
    c.drawString(
        left, y, latin(f"Desa/Kelurahan: {desa_name}   Jumlah: {count} kartu   Dicetak: {tanggal(printed_on)}")
    )
    y -= 5 * mm
    c.drawString(left, y, RECEIPT_NOTE)
    y -= 4 * mm
    c.setFillColor(GREEN)
    c.rect(left, y - 7 * mm, sum(w for _, w in _COLUMNS), 7 * mm, stroke=0, fill=1)
    c.setFillColor(white)
    c.setFont(BOLD, 8.5)
    x = left
    for title, w in _COLUMNS:
        c.drawString(x + 1.5 * mm, y - 4.8 * mm, title)
        x += w
    _sheet_footer(c, f"{RECEIPT_TITLE} - {desa_name} - halaman {page}")
    return float(y - 7 * mm)


def _receipt_row(c: Canvas, number: int, card: Card, y: float) -> None:
    left = (A4[0] - sum(w for _, w in _COLUMNS)) / 2
    widths = [w for _, w in _COLUMNS]
    c.setStrokeColor(GREY)
    c.setLineWidth(0.4)
    c.rect(left, y - _ROW_H, sum(widths), _ROW_H, stroke=1, fill=0)
    x = left
    for w in widths[:-1]:
        x += w
        c.line(x, y, x, y - _ROW_H)
    c.setFillColor(INK)
    c.setFont(REGULAR, 8.5)
    c.drawRightString(left + widths[0] - 1.5 * mm, y - 5.6 * mm, str(number))
    size, lines = fit(latin(card.full_name), widths[1] - 3 * mm, _measure(REGULAR), (8.5, 7.5, 6.5, 5.5), 2)
    top = y - 5.6 * mm if len(lines) == 1 else y - 3.6 * mm
    _lines(c, lines[:2], left + widths[0] + 1.5 * mm, top, REGULAR, size)
    c.setFont(REGULAR, 8.5)
    c.drawString(left + widths[0] + widths[1] + 1.5 * mm, y - 5.6 * mm, latin(card.membership_number))


def desa_batch_pdf(cards: Sequence[Card], desa_name: str, printed_on: date) -> bytes:
    """A desa's cards for a village handover: A4 sheets of ``PER_SHEET`` cards (fronts, then the backs mirrored),
    with crop marks, then the receipt list to sign, one line per member. Cards and list are sorted by name, so
    card n of the sheets is line n of the list. ``cards`` must not be empty."""
    if not cards:
        raise ValueError("a batch needs at least one card")
    ordered = model.sorted_cards(cards)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(latin(f"Kartu peserta - {desa_name}"))
    c.setAuthor("Payung")
    sheets = (len(ordered) + PER_SHEET - 1) // PER_SHEET
    for sheet in range(sheets):
        group = ordered[sheet * PER_SHEET : (sheet + 1) * PER_SHEET]
        first = sheet * PER_SHEET + 1
        for side, draw, mirrored in (("depan", _front, False), ("belakang", _back, True)):
            for i, card in enumerate(group):
                x, y = _slot(i, mirrored)
                draw(c, card, x, y)
                _crop_marks(c, x, y)
            last = first + len(group) - 1
            _sheet_footer(c, f"{desa_name} - lembar {sheet + 1}/{sheets} ({side}) - kartu no. {first}-{last}")
            c.showPage()
    page, y = 1, 0.0
    for number, card in enumerate(ordered, start=1):
        if number == 1 or y - _ROW_H < 18 * mm:
            if number > 1:
                c.showPage()
                page += 1
            y = _receipt_header(c, desa_name, printed_on, len(ordered), page)
        _receipt_row(c, number, card, y)
        y -= _ROW_H
    c.showPage()
    c.save()
    return buf.getvalue()
