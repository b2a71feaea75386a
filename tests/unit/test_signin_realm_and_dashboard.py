"""The Keycloak realm the launcher imports, and the dashboard's pure parts: formats, targets, map, export."""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from deploy.native import keycloak
from deploy.native.config import StackConfig
from services.reporting.adapters import boundaries
from services.reporting.api import export
from services.reporting.domain import figures, formats, geomap
from services.reporting.settings import ReportingSettings
from shared.auth import Role
from shared.regions import default_regions
from shared.websession import WebSignInSettings, user_from_claims

BASES = ["http://127.0.0.1:8005", "http://127.0.0.1:8001"]


def settings(**over: object) -> ReportingSettings:
    return ReportingSettings(database_url="postgresql://x@h/d", kafka_bootstrap="h:1", **over)  # type: ignore[arg-type]


def test_the_realm_client_is_code_flow_with_pkce_and_maps_the_claims(tmp_path: Path) -> None:
    secrets = keycloak.ensure_secrets(tmp_path)
    realm = keycloak.realm(BASES, secrets)
    (client,) = realm["clients"]
    assert client["standardFlowEnabled"] and not client["directAccessGrantsEnabled"]
    assert not client["implicitFlowEnabled"] and not client["publicClient"]
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["redirectUris"] == [f"{b}/auth/callback" for b in BASES]
    assert client["attributes"]["post.logout.redirect.uris"].split("##") == [f"{b}/auth/signed-out" for b in BASES]
    assert {m["config"]["claim.name"] for m in client["protocolMappers"]} == set(keycloak.CLAIMS)
    profile = json.loads(realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"][
        "kc.user.profile.config"
    ][0])  # fmt: skip
    for attribute in profile["attributes"]:
        if attribute["name"] in keycloak.CLAIMS:  # a user can never edit their own role or area
            assert attribute["permissions"]["edit"] == ["admin"]


def test_every_demo_user_maps_to_a_principal_of_its_role_and_area(tmp_path: Path) -> None:
    realm = keycloak.realm(BASES, keycloak.ensure_secrets(tmp_path))
    web = WebSignInSettings()
    for user in realm["users"]:
        claims = {"sub": "s", **{k: v for k, v in user["attributes"].items()}}
        spec = keycloak.DEMO_USERS[user["username"]]
        principal = user_from_claims(claims, web).principal
        assert principal.role is Role(spec["role"]) and principal.area == spec["area"]
        assert user["credentials"][0]["value"] and not user["credentials"][0]["temporary"]


def test_passwords_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = keycloak.ensure_secrets(tmp_path)
    assert keycloak.ensure_secrets(tmp_path) == first
    assert stat.S_IMODE(keycloak.secrets_file(tmp_path).stat().st_mode) == 0o600
    assert len(set(first["users"].values())) == len(keycloak.DEMO_USERS)


def test_sign_in_settings_of_a_service_on_the_local_stack(tmp_path: Path) -> None:
    cfg = StackConfig(stack_dir=tmp_path, keycloak_port=18080)
    env = keycloak.service_env(cfg, "reporting")
    assert env["PAYUNG_OIDC_ISSUER"] == "http://127.0.0.1:18080/realms/payung"
    assert env["PAYUNG_OIDC_PUBLIC_BASE_URL"] == "http://127.0.0.1:8005"
    assert WebSignInSettings(**{k.removeprefix("PAYUNG_").lower(): v for k, v in env.items()}).enabled
    assert keycloak.service_env(StackConfig(stack_dir=tmp_path, idp="none"), "reporting") == {}


def test_numbers_and_times_by_locale() -> None:
    idn, en = formats.Formats("id"), formats.Formats("en")
    assert (idn.number(2300), idn.percent(0.015), idn.rupiah(3_024_000_000)) == ("2.300", "1,5%", "Rp3.024.000.000")
    assert (en.number(2300), en.percent(0.015)) == ("2,300", "1.5%")
    assert idn.when(datetime(2026, 12, 3, 1, 25, tzinfo=UTC)) == "3 Desember 2026 09:25 WITA"


def test_kecamatan_targets_configured_and_shared() -> None:
    s = settings(target=1000, kecamatan_targets={"64.08.04": 100, "99.99.99": 5})
    codes = [r.code for r in default_regions().children(s.programme_regency)]
    targets = figures.kecamatan_targets(codes, s.kecamatan_targets, s.target)
    assert len(targets) == 18 and targets["64.08.04"] == 100 and "99.99.99" not in targets
    assert sum(targets.values()) == 1000
    assert figures.area_target(targets, "64.08.04") == 100
    assert figures.area_target(targets, "64.08") == 1000
    assert figures.area_target(targets, "64.08.04.1001") == 0  # no target for a single desa


def test_the_cost_of_the_target_next_to_the_budget() -> None:
    s = settings(target=150_000)
    budget = {"totals": {"yearly_allocated_idr": 20_600 * 16_800 * 12}}
    cost = figures.target_cost(s.target, s.funding_sources[0].premium_idr, budget)
    assert cost["yearly_cost_idr"] == 150_000 * 16_800 * 12 == 30_240_000_000
    assert cost["gap_idr"] == (150_000 - 20_600) * 16_800 * 12


def test_the_map_has_every_kecamatan_inside_the_frame() -> None:
    frame = geomap.shapes(boundaries.kecamatan_features("64.08"))
    shapes, width, height = frame
    assert len(shapes) == 18 and width == 520 and 200 < height < 600
    for s in shapes:
        xy = [tuple(map(float, p.lstrip("ML").split(","))) for p in s.path.replace(" Z", "").split() if "," in p]
        assert all(-0.5 <= x <= width + 0.5 and -0.5 <= y <= height + 0.5 for x, y in xy), s.name
    coloured, _, _ = geomap.coverage_map(frame, [{"code": "64.08.01", "covered": 60, "target": 100}])
    fills = {m.code: m.fill for m in coloured}
    assert fills["64.08.01"] == geomap.colour(0.6) == geomap.COLOURS[3]
    assert [c for c, f in fills.items() if f == geomap.NO_DATA] == sorted(set(fills) - {"64.08.01"})


def test_the_export_has_one_sheet_per_table() -> None:
    reports = {
        "overview": {"by_status": [{"label": "Ditolak", "count": 3}], "target": 10, "covered": 2,
                     "coverage_share": 0.2},
        "coverage": {
            "by_kecamatan": [{"code": "64.08.01", "name": "Muara Ancalong", "target": 10, "covered": 2,
                              "target_share": 0.2, "nominated": 5, "waitlisted": 0, "rejected": 3}],
            "by_desa": [{"code": "64.08.01.2001", "name": "Senyiur", "covered": 2, "nominated": 5, "waitlisted": 0,
                         "rejected": 3}],
            "by_occupation": [], "series": [{"day": "2026-02-02", "nominated": 5, "covered": 2}],
        },
        "rejections": {"reasons": [{"code": "DECEASED", "label": "Meninggal", "count": 3}]},
        "budget": None, "cost": None, "health": None,
    }  # fmt: skip
    wb = load_workbook(io.BytesIO(export.workbook(reports, "id")))
    assert wb.sheetnames == ["Ringkasan", "Kecamatan", "Desa", "Kategori pekerja", "Alasan penolakan", "Harian"]
    assert [c.value for c in wb["Desa"][2]] == ["64.08.01.2001", "Senyiur", 2, 5, 0, 3]


def test_keycloak_refuses_to_start_on_a_taken_port(tmp_path: Path) -> None:
    """Found in testing: a Keycloak already on the port answered the new one's health check (with other passwords)
    while the new one was still starting and then failed to bind; the start must refuse instead."""
    import socket

    import pytest

    from deploy.native.config import StackError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = StackConfig(stack_dir=tmp_path, keycloak_port=taken.getsockname()[1])
        with pytest.raises(StackError, match="is taken"):
            keycloak.start(cfg)
    assert not keycloak.pid_file(cfg).exists()
