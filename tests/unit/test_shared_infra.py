import json
import logging

from shared.asyncapi import DOC, render
from shared.keys import person_key
from shared.logs import configure, get_logger, mask_text
from shared.topics import all_topics, dlq


def test_person_key_is_stable_secret_dependent_and_not_the_nik():
    nik = "6408014501900001"
    key = person_key(nik, "secret-one-0123456789")
    assert key == person_key(nik, "secret-one-0123456789")
    assert key != person_key(nik, "secret-two-0123456789")
    assert nik not in key and len(key) == 32


def test_masking_hides_niks_and_phone_numbers_but_not_ordinary_numbers():
    text = "nik 6408014501900001 phone 081234567890 intl +6281234567890 batch 500 at 2026-11-21"
    masked = mask_text(text)
    assert "6408014501900001" not in masked
    assert "081234567890" not in masked and "6281234567890" not in masked
    assert "batch 500" in masked and "2026-11-21" in masked


def test_log_lines_drop_personal_fields(capsys):
    configure("test")
    get_logger("t").info("submitted 6408014501900001", nik="6408014501900001", full_name="Siti", count=2)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["nik"] == "[masked]" and line["full_name"] == "[masked]"
    assert "6408014501900001" not in line["event"]
    assert line["count"] == 2
    logging.getLogger().handlers.clear()


def test_every_event_topic_has_a_dead_letter_topic():
    names = {t.name for t in all_topics("p.")}
    for name in list(names):
        if not name.endswith(".dlq"):
            assert dlq(name) in names


def test_committed_asyncapi_document_matches_the_contracts():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m shared.asyncapi"


def test_test_modules_outside_packages_have_unique_names() -> None:
    """pytest imports a test module of a folder without ``__init__.py`` by its bare name: two such modules of one
    name stop the whole run at collection (tests/unit and tests/integration both had test_nomination_objections.py;
    each folder alone ran green)."""
    from collections import Counter
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bare = [p.name for p in root.rglob("test_*.py") if not (p.parent / "__init__.py").exists()]
    assert [name for name, count in Counter(bare).items() if count > 1] == []
