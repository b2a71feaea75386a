"""The DCI callbacks the civil registry calls: ``/dci/registry/on-search``, ``/on-subscribe``, ``/notify``.

No API key: these routes are authenticated by the DCI message signature (``shared.dci``, the registry's public
keys from settings), checked before anything is read or written. Answers are the spec's acknowledgement:
``ACK`` (applied), or ``ERR`` with the spec's code: 401 ``err.signature.missing``/``err.signature.invalid``,
409 ``rjct.message_id.duplicate`` (a replay), 422 ``rjct.reference_id.invalid`` (an unknown transaction),
400 ``rjct.action.invalid`` or
``rjct.receiver_id.invalid`` (addressed to another subscriber), 404 when this service does not use the DCI
adapter. A refused callback changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.verification import bootstrap
from services.verification.bootstrap import Deps
from services.verification.commands import DciCallback
from services.verification.errors import CallbackRefused
from services.verification.handlers import dci as handlers
from shared import dci, messaging
from shared.logs import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/dci/registry", tags=["dci"])
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Apply = Callable[[Deps, DciCallback], Awaitable[Any]]


async def _apply(request: Request, deps: Deps, action: Apply) -> JSONResponse:
    if deps.dci is None:
        return JSONResponse(dci.ack("ERR", "", ("rjct.action.not_supported", "DCI is not configured")), 404)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse(dci.ack("ERR", "", ("err.request.bad", "the body is not a JSON object")), 400)
    message = body.get("message")
    correlation = str(message.get("transaction_id", ""))[:99] if isinstance(message, dict) else ""
    try:
        await action(deps, DciCallback(body=body))
    except dci.SignatureRefused as exc:
        log.warning("DCI callback refused", path=request.url.path, code=exc.code, reason=exc.message)
        return JSONResponse(dci.ack("ERR", correlation, (exc.code, exc.message)), 401)
    except CallbackRefused as exc:
        log.warning("DCI callback refused", path=request.url.path, code=exc.code, reason=exc.message)
        return JSONResponse(dci.ack("ERR", correlation, (exc.code, exc.message)), exc.status)
    return JSONResponse(dci.ack("ACK", correlation))


@router.post("/on-search")
async def on_search(request: Request, deps: DepsDep) -> JSONResponse:
    """Search results of an asynchronous ``/registry/search`` (``SearchResponse``)."""
    return await _apply(request, deps, handlers.searched)


@router.post("/on-subscribe")
async def on_subscribe(request: Request, deps: DepsDep) -> JSONResponse:
    """The registry's answer to ``/registry/subscribe`` (``SubscribeResponse``)."""
    return await _apply(request, deps, lambda d, cmd: messaging.run(d, handlers.on_subscribe, cmd))


@router.post("/notify")
async def notify(request: Request, deps: DepsDep) -> JSONResponse:
    """Vital events of a subscription (``NotifyEventRequest``); deaths end the cover of verified people."""
    return await _apply(request, deps, lambda d, cmd: messaging.run(d, handlers.notify, cmd))
