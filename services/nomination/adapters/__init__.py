"""The nomination service's outside world: where supporting letters are stored (``letters``). The spreadsheets
of the portal's upload are read by ``shared.sheets`` (a format the operator's ``payung import`` shares)."""
