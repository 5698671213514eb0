"""Deployers: render one list of workloads onto a runtime (local processes, or a Kubernetes cluster)."""
