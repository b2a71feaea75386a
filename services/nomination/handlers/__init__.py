"""The nomination service's use cases, one function per command or event (shared/messaging.py): ``submission``
(a nomination, a batch), ``progress`` (what downstream services report), ``reads`` (a nomination, the summaries,
the portal's lists), ``letters`` (supporting letters), ``uploads`` (the portal's spreadsheet jobs and the job that
sends their rows). ``access`` holds the area check every one of them applies."""
