"""SQL of the nomination service: ``nominations`` (the proposals, their progress and history, idempotency keys,
the summaries), ``portal`` (the portal's lists and a rejected request), ``uploads`` (the spreadsheet upload jobs).
Functions take a connection inside the caller's transaction and never commit."""
