"""The operator commands of ``./payung``: imports, reports, dead letters, parked events, retention, the demo."""
