"""A village's spreadsheet of nominations (the import template), the one format the portal's upload and the
operator's ``payung import`` share: ``rows`` (the columns, each row's nomination request and row errors, how an
answer becomes the row's outcome), ``read`` (CSV or XLSX bytes into rows, hostile files refused), ``files`` (the
per-row report and the template). Pure: bytes in, values out; built on ``shared.formats`` and the region lists.
"""
