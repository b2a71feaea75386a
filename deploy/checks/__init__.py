"""Static checks of the deployment files (``bash deploy/checks/checks.sh``) and the tools they build."""
