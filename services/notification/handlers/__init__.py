"""The notification service's handlers: one function per command or event (``shared.messaging``), and the steps
of its two jobs (dispatch, digests)."""
