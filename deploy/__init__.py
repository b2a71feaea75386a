"""Running Payung: the native local stack (``./payung``) and, later, the deployment descriptors."""
