"""Evidence for issue 5: the benchmark (``python -m bench.run``) and the fault suite (``python -m bench.faults``)."""
