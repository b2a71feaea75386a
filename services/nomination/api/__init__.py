"""The nomination service's HTTP routes: ``rest`` (the machine API, ``/v1/nominations``), ``portal`` (the
nominator's pages and their JSON routes), ``upload`` (the portal's spreadsheet upload), ``rules`` (the checks the
portal's page runs before sending). Routes validate, build a command, run its handler and shape the answer."""
