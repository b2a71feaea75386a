"""The outside world of the verification service: the civil registry (snapshot, HTTP, DCI) and its guards."""
