"""HTTP of the verification service: the REST API (``rest``), the DCI callbacks (``dci``), the workspace (``pages``)."""
