"""The portal's page checks (services/nomination/static/rules.js, run here in Node) agree with the server's own
validators on the rules it exports: a NIK the page accepts is one the server accepts, and the other way round."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from services.nomination import domain
from services.nomination.api.rules import rules
from shared.auth import Principal, Role
from shared.regions import default_regions

RULES_JS = Path(__file__).parents[2] / "services" / "nomination" / "static" / "rules.js"


def niks(count: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    out = ["6408014501900001", "6408010101000001", "6408012902000001", "6408012901000001", "6408016902010001"]
    out += ["9908014501900001", "640801450190000", "64080145019000011", "6408014513900001", "6408018001900001"]
    for _ in range(count):
        province = rng.choice(["64", "65", "11", "99", "00", "31", "96"])
        day = rng.choice([rng.randint(0, 80), 29, 30, 31, 69, 70, 71])
        month = rng.choice([rng.randint(0, 13), 2])
        place = f"{province}{rng.randint(0, 99):02d}{rng.randint(0, 99):02d}"
        out.append(f"{place}{day:02d}{month:02d}{rng.randint(0, 99):02d}0001")
    return out


def server_accepts(nik: str) -> bool:
    try:
        domain.validate_nik(nik, default_regions())
    except domain.InvalidField:
        return False
    return True


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_and_the_server_agree_on_niks() -> None:
    exported = rules(Principal("t", Role.NOMINATOR, "64.08.01.2001"), "64.08", 1 << 20)
    sample = niks(2000)
    script = (
        RULES_JS.read_text()
        + "\nconst rules = JSON.parse(process.argv[1]); const niks = JSON.parse(process.argv[2]);"
        + "\nconsole.log(JSON.stringify(niks.map(n => PayungRules.nik(n, rules) === null)));"
    )
    done = subprocess.run(
        ["node", "-e", script, json.dumps(exported), json.dumps(sample)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    page = json.loads(done.stdout)
    disagree = [n for n, ok in zip(sample, page, strict=True) if ok != server_accepts(n)]
    assert disagree == []
    assert any(page) and not all(page)  # the sample holds both kinds
