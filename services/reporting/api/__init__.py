"""HTTP of the reporting service: the JSON reports (rest.py), the dashboard page and its XLSX download (pages.py,
export.py). Routes build a query and hand it to a handler; none touches the database."""
