"""The validation rules the portal's page applies before sending, exported from the server's own sources.

The page (static/form.js) checks what the server checks (services/nomination/commands.py and domain.py) so that an
official on a weak connection learns of a typo before sending; the server stays the authority and checks again.
The facts come from one place: the region list (shared/regions.py), the national province list (NIK place), the
occupations (domain.OCCUPATIONS), the letter limits (settings). Only the phone rule is an approximation of
``phonenumbers`` (an Indonesian mobile number); the server's answer decides.
"""

from __future__ import annotations

from typing import Any

from services.nomination import domain
from shared.auth import Principal
from shared.formats import OCCUPATIONS
from shared.regions import default_regions, national_regions

PHONE_PATTERN = r"^(\+62|62|0)8[1-9][0-9]{7,11}$"


def area_desa(area: str | None, regency: str) -> list[dict[str, str]]:
    """The kecamatan and desa of ``area`` (all of the programme's regency when None), as the form offers them."""
    regions = default_regions()
    scope = area or regency
    out = []
    for kec in regions.by_level("kecamatan"):
        if not kec.code.startswith(regency + "."):
            continue
        for desa in regions.children(kec.code):
            if domain.covers(scope, desa.code):
                out.append({"code": desa.code, "name": desa.name, "kecamatan_code": kec.code, "kecamatan": kec.name})
    return out


def rules(principal: Principal, regency: str, letter_max_bytes: int) -> dict[str, Any]:
    provinces = sorted(r.code for r in national_regions().by_level("provinsi"))
    return {
        "version": default_regions().version,
        "nik": {"length": 16, "provinces": provinces},
        "phone": {"pattern": PHONE_PATTERN},
        "birth_date": {"min_year": 1900},
        "letter": {"max_bytes": letter_max_bytes, "types": ["image/jpeg", "image/png", "application/pdf"]},
        "desa": area_desa(principal.area, regency),
        "occupations": OCCUPATIONS,
        "nominator": nominator(principal, regency),
    }


def nominator(principal: Principal, regency: str) -> dict[str, str]:
    """Who the signed-in official nominates as (domain.nominator_claim_error): desa and kecamatan accounts as the
    officials of the chosen desa (``region_code`` empty: the page puts the desa in), others as Disnaker."""
    if principal.area is not None and principal.area.count(".") >= 2:
        return {"type": "desa", "region_code": ""}
    return {"type": "disnaker", "region_code": regency}
