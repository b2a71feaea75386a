"""The Kubernetes manifests of deploy/k8s, generated from the code (``python -m deploy.kube.generate``)."""
