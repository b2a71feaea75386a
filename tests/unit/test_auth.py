"""shared.auth: API keys, JWT verification with a real key pair, areas and the route rules."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.auth import (
    ApiKeyStore,
    Authenticator,
    AuthError,
    JwtVerifier,
    Principal,
    Role,
    default_roles,
    hash_api_key,
    in_area,
    new_api_key,
    principal_from_claims,
)

# ------------------------------------------------------------------------------------------------------ areas


@pytest.mark.parametrize(
    ("area", "code", "inside"),
    [
        ("64.08.01.2001", "64.08.01.2001", True),  # a desa official, its own desa
        ("64.08.01.2001", "64.08.01.2002", False),  # the neighbouring desa
        ("64.08.01", "64.08.01.2002", True),  # a kecamatan official, a desa of its kecamatan
        ("64.08.01", "64.08.02.2001", False),  # another kecamatan
        ("64.08", "64.08.13.1001", True),  # regency-wide (Disnaker field officer)
        ("64.08", "64.09.01.2001", False),  # another regency
        ("64.08.01.2001", "64.08.01.20011", False),  # a prefix that is not a parent code
        ("64.08.01", "64.08.010", False),
    ],
)
def test_area_containment(area: str, code: str, inside: bool) -> None:
    assert in_area(area, code) is inside
    assert Principal("p", Role.NOMINATOR, area).covers(code) is inside


def test_a_principal_without_area_covers_everything_and_a_nominator_needs_one() -> None:
    assert Principal("admin", Role.PROGRAMME_ADMIN).covers("64.09.01.2001")
    with pytest.raises(ValueError, match="no area"):
        Principal("n", Role.NOMINATOR)
    with pytest.raises(ValueError, match="dotted region code"):
        Principal("n", Role.NOMINATOR, "64.08.01%")


def test_claims_cannot_grant_unknown_roles_or_the_system_role() -> None:
    assert principal_from_claims("v", "verifier", None) == Principal("v", Role.VERIFIER)
    for role in ("root", "system", None):
        with pytest.raises(ValueError):
            principal_from_claims("x", role, None)


# --------------------------------------------------------------------------------------------------- API keys


def test_api_keys_are_configured_by_hash_and_verified() -> None:
    key, other = new_api_key(), new_api_key()
    assert key.startswith("pyg_") and len(key) > 40 and key != other
    store = ApiKeyStore.from_config(
        {hash_api_key(key): {"name": "desa-senyiur", "role": "nominator", "area": "64.08.01.2001"}}
    )
    assert store.verify(key) == Principal("desa-senyiur", Role.NOMINATOR, "64.08.01.2001")
    assert store.verify(other) is None
    assert store.verify(key[:-1]) is None
    assert hash_api_key(key) == hash_api_key(key) and len(hash_api_key(key)) == 64


def test_a_key_in_clear_in_the_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        ApiKeyStore.from_config({new_api_key(): {"name": "x", "role": "auditor"}})


def test_authenticator_takes_the_key_from_either_header() -> None:
    key = new_api_key()
    auth = Authenticator(ApiKeyStore({hash_api_key(key): Principal("a", Role.AUDITOR)}))
    assert auth.authenticate(key, None).name == "a"
    assert auth.authenticate(None, key).name == "a"  # Authorization: Bearer pyg_...
    for api_key, bearer in ((None, None), ("pyg_wrong", None), (None, "eyJ.not.configured")):
        with pytest.raises(AuthError) as err:
            auth.authenticate(api_key, bearer)
        assert err.value.status == 401


def test_default_roles_are_fail_closed() -> None:
    assert default_roles("GET") == {Role.VERIFIER, Role.PROGRAMME_ADMIN, Role.AUDITOR}
    assert default_roles("POST") == default_roles("DELETE") == {Role.PROGRAMME_ADMIN}


# -------------------------------------------------------------------------------------------------------- JWT

ISSUER, AUDIENCE = "https://sso.kutaitimurkab.example/realms/payung", "payung"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _token(private_key, alg: str = "RS256", kid: str | None = None, **overrides) -> str:  # type: ignore[no-untyped-def]
    claims = {
        "sub": "user-42",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        "payung_role": "nominator",
        "payung_area": "64.08.01",
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private_key, algorithm=alg, headers={"kid": kid} if kid else None)


def _verifier(public: str) -> JwtVerifier:
    return JwtVerifier.from_public_key(public, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE)


def test_a_valid_token_gives_its_principal(rsa_key: rsa.RSAPrivateKey) -> None:
    assert _verifier(_pem(rsa_key)).verify(_token(rsa_key)) == Principal("user-42", Role.NOMINATOR, "64.08.01")


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 60},
        {"iss": "https://evil.example"},
        {"aud": "another-app"},
        {"exp": None},  # a token that never expires is refused
    ],
)
def test_expired_or_foreign_tokens_are_refused(rsa_key: rsa.RSAPrivateKey, overrides: dict) -> None:
    with pytest.raises(AuthError) as err:
        _verifier(_pem(rsa_key)).verify(_token(rsa_key, **overrides))
    assert err.value.status == 401


def test_a_token_signed_by_another_key_or_with_hmac_or_none_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = _verifier(_pem(rsa_key))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = [
        _token(stranger),
        # The classic confusion attack: HMAC "signed" with the public key as the secret.
        jwt.api_jws.PyJWS().encode(b'{"sub":"x","exp":9999999999}', _pem(rsa_key).encode()[:32] * 2, algorithm="HS256"),
        jwt.encode({"sub": "x", "exp": 9999999999}, None, algorithm="none"),
    ]
    for token in forged:
        with pytest.raises(AuthError):
            verifier.verify(token)
    with pytest.raises(ValueError, match="asymmetric"):
        JwtVerifier.from_public_key(_pem(rsa_key), algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)


def test_claims_that_grant_nothing_valid_are_forbidden(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = _verifier(_pem(rsa_key))
    for overrides in ({"payung_role": "system"}, {"payung_role": None}, {"payung_area": None}):
        with pytest.raises(AuthError) as err:
            verifier.verify(_token(rsa_key, **overrides))
        assert err.value.status == 403


def test_jwks_picks_the_key_by_kid(rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "use": "sig"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "use": "sig"},
        ]
    }
    verifier = JwtVerifier.from_jwks(jwks, algorithms=["RS256", "ES256"], issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(_token(rsa_key, kid="rsa-1", payung_role="auditor", payung_area=None)).role is Role.AUDITOR
    assert verifier.verify(_token(ec_key, alg="ES256", kid="ec-1")).area == "64.08.01"
    for token in (_token(rsa_key, kid="ec-1"), _token(rsa_key, kid="unknown")):
        with pytest.raises(AuthError):
            verifier.verify(token)


def test_authenticator_from_settings_reads_keys_and_the_public_key_file(tmp_path, rsa_key) -> None:  # type: ignore[no-untyped-def]
    key = new_api_key()
    (tmp_path / "keys.json").write_text(f'{{"{hash_api_key(key)}": {{"name": "k", "role": "verifier"}}}}')
    (tmp_path / "idp.pem").write_text(_pem(rsa_key))
    settings = SimpleNamespace(
        api_keys={},
        api_keys_file=tmp_path / "keys.json",
        jwt_jwks_file=None,
        jwt_public_key_file=tmp_path / "idp.pem",
        jwt_algorithms=["RS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_role_claim="payung_role",
        jwt_area_claim="payung_area",
    )
    auth = Authenticator.from_settings(settings)
    assert auth.authenticate(key, None).role is Role.VERIFIER
    assert auth.authenticate(None, _token(rsa_key)).area == "64.08.01"


@pytest.mark.parametrize("missing", ["jwt_issuer", "jwt_audience"])
def test_with_jwt_on_issuer_and_audience_are_required(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, missing: str) -> None:
    """A token another application of the same identity provider was given must not open this API: startup
    refuses a JWT configuration without an issuer or an audience."""
    (tmp_path / "idp.pem").write_text(_pem(rsa_key))
    settings = SimpleNamespace(
        api_keys={},
        api_keys_file=None,
        jwt_jwks_file=None,
        jwt_public_key_file=tmp_path / "idp.pem",
        jwt_algorithms=["RS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_role_claim="payung_role",
        jwt_area_claim="payung_area",
    )
    setattr(settings, missing, None)
    with pytest.raises(ValueError, match="issuer and an audience"):
        Authenticator.from_settings(settings)
