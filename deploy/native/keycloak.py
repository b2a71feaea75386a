"""Keycloak, the local identity provider for people's sign-in, run from Maven Central's distribution (no Docker).

``org.keycloak:keycloak-quarkus-dist`` (a zip) is fetched once with Maven into ``.stack/keycloak-dist`` (like Kafka's
jars) and unpacked per instance into ``.stack/keycloak-<version>-<instance>-<hash>/`` (kept when a test instance
is wiped); ``kc.sh start-dev`` runs it on 127.0.0.1 with an
in-memory database (``--db=dev-mem``) and imports the ``payung`` realm this module writes on every start
(``data/import/payung-realm.json``): a confidential client ``payung-web`` (authorization code, PKCE S256 required),
mappers putting the user attributes ``payung_role``/``payung_area``/``payung_nominator_type`` into the tokens, and
one demo user per role and area (``DEMO_USERS``). Passwords (users, the client secret, the bootstrap admin) are
made once per instance and kept in ``people.secret.json`` (0600) next to the API keys; as the realm is imported
afresh at each start, what that file says is what Keycloak has. Nothing else is kept: sessions end with a restart.

``python -m deploy.native.keycloak realm OUT_DIR [--base-url URL ...]`` writes the realm file for compose or Kubernetes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from deploy.native.config import REPO_ROOT, SERVICES, StackConfig, StackError
from deploy.native.procs import port_open, running_pid, spawn, tail, terminate

log = logging.getLogger("payung.stack")

VERSION = "26.4.7"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:zip"
DIST_DIR = REPO_ROOT / ".stack" / "keycloak-dist"
ZIP = DIST_DIR / f"keycloak-quarkus-dist-{VERSION}.zip"
REALM = "payung"
CLIENT_ID = "payung-web"
MARKER = f"keycloak-{VERSION}"  # in the command lines of kc.sh and of its java process
READY_TIMEOUT = 300.0  # ~60 s on two idle cores, 200 s seen while other test suites ran
STOP_TIMEOUT = 30.0
# Web-serving services whose pages use the sign-in (their /auth/callback is a valid redirect).
WEB_SERVICES = SERVICES
CLAIMS = ("payung_role", "payung_area", "payung_nominator_type")

# One person per role and area: two desa officials of Kutai Timur in different kecamatan, a Disnaker field officer
# of kecamatan Muara Ancalong (covers the first desa, not the second), and the programme's central staff.
DEMO_USERS: dict[str, dict[str, str | None]] = {
    "nominator-senyiur": {"role": "nominator", "area": "64.08.01.2001", "type": "desa", "name": "Sekdes Senyiur"},
    "nominator-kerayaan": {"role": "nominator", "area": "64.08.05.2001", "type": "desa", "name": "Sekdes Kerayaan"},
    "nominator-ancalong": {
        "role": "nominator",
        "area": "64.08.01",
        "type": "disnaker",
        "name": "Petugas Kecamatan Muara Ancalong",
    },
    "verifier": {"role": "verifier", "area": None, "type": None, "name": "Verifikator Disnaker"},
    "admin": {"role": "programme_admin", "area": None, "type": None, "name": "Admin Program"},
    "auditor": {"role": "auditor", "area": None, "type": None, "name": "Auditor Inspektorat"},
}


def enabled(cfg: StackConfig) -> bool:
    return cfg.idp != "none"


def home(cfg: StackConfig) -> Path:
    """The instance's unpacked Keycloak, outside its stack dir: ``./payung test`` wipes .stack/test on every run, and
    unpacking plus Keycloak's first build (augmentation) cost 20-30 s that need not be paid again."""
    digest = hashlib.sha256(str(cfg.stack_dir.resolve()).encode()).hexdigest()[:10]
    return DIST_DIR.parent / f"keycloak-{VERSION}-{cfg.stack_dir.name}-{digest}" / f"keycloak-{VERSION}"


def pid_file(cfg: StackConfig) -> Path:
    return cfg.run_dir / "keycloak.pid"


def log_path(cfg: StackConfig) -> Path:
    return cfg.logs_dir / "keycloak.log"


def secrets_file(stack_dir: Path) -> Path:
    return stack_dir / "people.secret.json"


def issuer(cfg: StackConfig) -> str:
    return f"http://{cfg.host}:{cfg.keycloak_port}/realms/{REALM}"


def ensure_dist() -> Path:
    """The distribution zip in ``.stack/keycloak-dist``, fetched with ``mvn dependency:copy`` when missing."""
    if ZIP.exists() and zipfile.is_zipfile(ZIP):
        return ZIP
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found: install Maven to fetch Keycloak (or PAYUNG_IDP=none to run without it)")
    log.info("fetching %s from Maven Central into %s (159 MB)", ARTIFACT, DIST_DIR)
    t0 = time.monotonic()
    tmp = DIST_DIR.with_name(DIST_DIR.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    result = subprocess.run(  # noqa: S603
        [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={tmp}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    fetched = tmp / ZIP.name
    if result.returncode != 0 or not fetched.exists():
        raise StackError(f"mvn could not fetch Keycloak:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    DIST_DIR.mkdir(parents=True, exist_ok=True)
    fetched.replace(ZIP)
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("fetched Keycloak %s in %.1f s", VERSION, time.monotonic() - t0)
    return ZIP


def ensure_home(cfg: StackConfig) -> Path:
    """This instance's unpacked Keycloak (once; ``.unpacked`` is written last, so a broken unzip is redone)."""
    target = home(cfg)
    stamp = target / ".unpacked"
    if stamp.exists():
        return target
    archive = ensure_dist()
    parent = target.parent
    shutil.rmtree(target, ignore_errors=True)
    parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(parent)
    for script in (target / "bin").glob("*.sh"):
        script.chmod(0o755)
    stamp.write_text(VERSION + "\n")
    return target


def ensure_secrets(stack_dir: Path) -> dict[str, Any]:
    """``{"users": {username: password}, "client_secret": ..., "admin_password": ..., "session_secret": ...}``."""
    path = secrets_file(stack_dir)
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        if set(data.get("users", {})) == set(DEMO_USERS):
            return data
    stack_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "users": {name: secrets.token_urlsafe(12) for name in DEMO_USERS},
        "client_secret": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(16),
        "session_secret": secrets.token_urlsafe(48),
    }
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(data, indent=2))
    return data


def _mapper(claim: str) -> dict[str, Any]:
    return {
        "name": claim,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "consentRequired": False,
        "config": {
            "user.attribute": claim,
            "claim.name": claim,
            "jsonType.label": "String",
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
            "multivalued": "false",
        },
    }


def _user_profile() -> dict[str, Any]:
    """Keycloak's declarative user profile with the Payung attributes declared: editable by admins only, so a user
    cannot give themself a role or an area on the account page."""
    admin_only = {"view": ["admin"], "edit": ["admin"]}
    person = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    length = {"length": {"max": 255}}
    attrs: list[dict[str, Any]] = [
        {
            "name": "username",
            "displayName": "${username}",
            "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
            "validations": {
                "length": {"min": 3, "max": 255},
                "username-prohibited-characters": {},
                "up-username-not-idn-homograph": {},
            },
        },
        {"name": "email", "displayName": "${email}", "permissions": person, "validations": {"email": {}, **length}},
        {"name": "firstName", "displayName": "${firstName}", "permissions": person, "validations": length},
        {"name": "lastName", "displayName": "${lastName}", "permissions": person, "validations": length},
    ]
    attrs += [{"name": c, "displayName": c, "permissions": admin_only, "multivalued": False} for c in CLAIMS]
    return {"attributes": attrs, "groups": []}


def realm(
    base_urls: list[str],
    secrets_: dict[str, Any],
    *,
    email_domain: str = "payung.example.org",
    demo_users: bool = True,
) -> dict[str, Any]:
    """The ``payung`` realm: the web client (redirects to ``<base>/auth/callback`` of every base URL), the claim
    mappers and the demo users with their passwords (``demo_users=False``: none, as for a production cluster,
    where an administrator creates the accounts)."""
    users = []
    for username, spec in DEMO_USERS.items() if demo_users else ():
        attributes = {"payung_role": [spec["role"]]}
        if spec["area"]:
            attributes["payung_area"] = [spec["area"]]
        if spec["type"]:
            attributes["payung_nominator_type"] = [spec["type"]]
        first, _, last = str(spec["name"]).partition(" ")
        users.append(
            {
                "username": username,
                "enabled": True,
                "emailVerified": True,
                "email": f"{username}@{email_domain}",
                "firstName": first,
                "lastName": last or first,
                "attributes": attributes,
                "credentials": [{"type": "password", "value": secrets_["users"][username], "temporary": False}],
                "requiredActions": [],
            }
        )
    bases = [b.rstrip("/") for b in base_urls]
    return {
        "realm": REALM,
        "enabled": True,
        "displayName": "Payung",
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": False,
        "resetPasswordAllowed": False,
        "bruteForceProtected": True,
        "internationalizationEnabled": True,
        "supportedLocales": ["id", "en"],
        "defaultLocale": "id",
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 8 * 3600,
        "clients": [
            {
                "clientId": CLIENT_ID,
                "name": "Payung web pages",
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": secrets_["client_secret"],
                "standardFlowEnabled": True,
                "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "serviceAccountsEnabled": False,
                "frontchannelLogout": True,
                "redirectUris": [f"{b}/auth/callback" for b in bases],
                "webOrigins": ["+"],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": "##".join(f"{b}/auth/signed-out" for b in bases),
                },
                "protocolMappers": [_mapper(c) for c in CLAIMS],
            }
        ],
        "users": users,
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(_user_profile())]},
                }
            ]
        },
    }


def base_urls(cfg: StackConfig) -> list[str]:
    return [f"http://{cfg.host}:{cfg.service_port(name)}" for name in WEB_SERVICES]


def write_realm(cfg: StackConfig) -> Path:
    path = home(cfg) / "data" / "import" / f"{REALM}-realm.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(realm(base_urls(cfg), ensure_secrets(cfg.stack_dir)), indent=2))
    path.chmod(0o600)
    return path


def current_pid(cfg: StackConfig) -> int | None:
    return running_pid(pid_file(cfg), MARKER)


def start(cfg: StackConfig) -> int:
    """Spawn Keycloak (not waiting for it: see ``wait_ready``); no-op if this instance's one runs."""
    pid = current_pid(cfg)
    if pid is not None:
        return pid
    if port_open(cfg.host, cfg.keycloak_port):
        # another program (or another instance's Keycloak) would answer the health check in this one's place
        raise StackError(f"port {cfg.host}:{cfg.keycloak_port} is taken: set PAYUNG_KEYCLOAK_PORT (or --no-idp)")
    kc_home = ensure_home(cfg)
    write_realm(cfg)
    data = ensure_secrets(cfg.stack_dir)
    env = {
        **os.environ,
        "KC_BOOTSTRAP_ADMIN_USERNAME": "payung-admin",
        "KC_BOOTSTRAP_ADMIN_PASSWORD": data["admin_password"],
        # a bounded heap on shared machines (Keycloak otherwise takes 70 % of the RAM as its maximum)
        "JAVA_OPTS_KC_HEAP": "-Xms128m -Xmx512m",
    }
    cmd = [
        str(kc_home / "bin" / "kc.sh"),
        "start-dev",
        f"--http-host={cfg.host}",
        f"--http-port={cfg.keycloak_port}",
        "--db=dev-mem",
        "--import-realm",
        "--health-enabled=false",
        "--metrics-enabled=false",
        "--cache=local",
    ]
    return spawn(cmd, log_path=log_path(cfg), pid_file=pid_file(cfg), env=env, cwd=kc_home)


def wait_ready(cfg: StackConfig, pid: int, timeout: float = READY_TIMEOUT) -> float:
    """Poll the realm's discovery document until it answers 200; the seconds waited."""
    url = issuer(cfg) + "/.well-known/openid-configuration"
    t0 = time.monotonic()
    last = "no answer"
    while True:
        if current_pid(cfg) != pid:
            raise StackError(f"keycloak exited while starting; {log_path(cfg)}:\n{tail(log_path(cfg), 60)}")
        try:
            response = httpx.get(url, timeout=3)
            if response.status_code == 200:
                return time.monotonic() - t0
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() - t0 >= timeout:
            raise StackError(f"keycloak not ready after {timeout:.0f} s ({url}: {last}); {log_path(cfg)}")
        time.sleep(1)


def stop(cfg: StackConfig) -> bool:
    pid = current_pid(cfg)
    if pid is None:
        return False
    if not terminate(pid, STOP_TIMEOUT):
        log.warning("keycloak did not stop within %.0f s and was killed", STOP_TIMEOUT)
    pid_file(cfg).unlink(missing_ok=True)
    return True


def service_env(cfg: StackConfig, name: str) -> dict[str, str]:
    """The sign-in settings of a web-serving service (shared/websession.py) on this instance."""
    if not enabled(cfg) or name not in WEB_SERVICES:
        return {}
    data = ensure_secrets(cfg.stack_dir)
    return {
        "PAYUNG_OIDC_ISSUER": issuer(cfg),
        "PAYUNG_OIDC_CLIENT_ID": CLIENT_ID,
        "PAYUNG_OIDC_CLIENT_SECRET": data["client_secret"],
        "PAYUNG_OIDC_PUBLIC_BASE_URL": f"http://{cfg.host}:{cfg.service_port(name)}",
        "PAYUNG_SESSION_SECRET": data["session_secret"],
    }


def describe(cfg: StackConfig) -> list[tuple[str, str]]:
    """Rows for ``./payung up``: where Keycloak is, the demo users (not their passwords) and the secrets file."""
    rows = [("keycloak", f"http://{cfg.host}:{cfg.keycloak_port}/admin/  (realm {REALM}, admin payung-admin)")]
    for username, spec in DEMO_USERS.items():
        scope = f"area {spec['area']}" if spec["area"] else "whole programme"
        rows.append((f"user {username}", f"{spec['role']}, {scope}"))
    rows.append(("passwords", f"{secrets_file(cfg.stack_dir)}  (users, Keycloak admin)"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deploy.native.keycloak", description="Write the payung realm for an import")
    sub = parser.add_subparsers(dest="command", required=True)
    out = sub.add_parser("realm", help="write payung-realm.json and people.secret.json into OUT_DIR")
    out.add_argument("out_dir", type=Path)
    out.add_argument("--base-url", action="append", default=[], help="where browsers reach a web service")
    args = parser.parse_args(argv)
    bases = args.base_url or [f"http://localhost:{8000 + i}" for i in range(1, len(SERVICES) + 1)]
    data = ensure_secrets(args.out_dir)
    target = args.out_dir / f"{REALM}-realm.json"
    target.write_text(json.dumps(realm(bases, data), indent=2))
    target.chmod(0o644)  # read by the Keycloak container's own user
    # env files for deploy/compose/keycloak.yml: the secrets the realm was made with
    for name, values in (
        ("keycloak.env", {"KC_BOOTSTRAP_ADMIN_PASSWORD": data["admin_password"]}),
        (
            "web.env",
            {"PAYUNG_OIDC_CLIENT_SECRET": data["client_secret"], "PAYUNG_SESSION_SECRET": data["session_secret"]},
        ),
    ):
        env_file = args.out_dir / name
        env_file.touch(mode=0o600)
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    print(f"wrote {target}, keycloak.env, web.env and {secrets_file(args.out_dir).name} (passwords) in {args.out_dir}")


if __name__ == "__main__":
    main()
