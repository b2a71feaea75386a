"""How long a desa's printed batch of membership cards takes: ``python -m bench.cards [--members 2000]`` signs and
renders that many synthetic cards through ``shared.cards.render.desa_batch_pdf`` and prints CPU, wall-clock time,
pages, size and peak memory (docs/outreach.md, "Membership cards"). No stack needed: a throwaway key signs."""

from __future__ import annotations

import argparse
import io
import random
import resource
import time
import uuid
from datetime import date

from pypdf import PdfReader

from shared import signing
from shared.cards.links import card_token, card_url
from shared.cards.render import Card, desa_batch_pdf

FIRST = ("Siti", "Ahmad", "Nur'aini", "Muhammad", "Budi", "Dewi", "Rahmat", "Yusuf", "Wati", "Hj. Fatimah")
LAST = ("Aminah", "Saputra", "binti Abdullah", "Ma'ruf", "Kusumawardhani", "Rahman", "Hidayat", "bin Usman")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.cards")
    parser.add_argument("--members", type=int, default=2000)
    args = parser.parse_args(argv)
    signing.install_signer("nomination", signing.generate("bench-cards"))
    rng = random.Random(1)
    wall, cpu = time.perf_counter(), time.process_time()
    cards = []
    for i in range(args.members):
        nid = uuid.UUID(int=rng.getrandbits(128))
        cards.append(
            Card(
                full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}",
                membership_number=f"26{i:09d}",
                funding_source_name="APBD Kab. Kutai Timur",
                coverage_start=date(2026, 12, 1),
                desa_name="Bumi Rapak",
                nomination_id=nid,
                qr_url=card_url("https://payung.kutaitimurkab.go.id", card_token("nomination", nid)),
            )
        )
    pdf = desa_batch_pdf(cards, "Bumi Rapak", date(2026, 12, 3))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = len(pdf) / 1e6
    print(f"{args.members} cards: {cpu:.1f} s CPU, {wall:.1f} s wall, {pages} pages, {size:.1f} MB, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
