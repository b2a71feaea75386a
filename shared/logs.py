"""Structured JSON logs with personal data masked.

A processor removes values of fields that hold personal data and masks anything in free text that looks like a
NIK, a KK number or a phone number, so a careless ``log.info("...", nik=...)`` or a library's exception text cannot
leak them. Person references in logs use the pseudonymous person key or the nomination id.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

PERSONAL_FIELDS = frozenset(
    {"nik", "no_kk", "kk", "full_name", "name", "nama", "phone", "email", "address", "birth_date", "street"}
)
_DIGIT_RUNS = re.compile(r"(?<!\d)(?:\+?62|0)?8\d{7,11}(?!\d)|(?<![\d-])\d{16}(?![\d-])")


def mask_text(text: str) -> str:
    return _DIGIT_RUNS.sub("[masked]", text)


def _mask(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if key in PERSONAL_FIELDS:
            event[key] = "[masked]"
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


def configure(service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn, aiokafka, faststream) through one JSON renderer."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)  # configured above with the stdlib factory
    return logger
