"""The enrolment service's use cases, one function per command or event (shared/messaging.py's conventions):
``seating`` (identity.verified), ``ending`` (Disnaker's end, the registry's life events), ``answers`` (BPJS's
answers), ``registrar`` (the BPJS job), ``renewal``, ``funding`` (the configuration), ``files`` (BPJS's batch
files), ``reads`` (the API's queries); ``seats`` and ``events`` are the steps and events they share."""
