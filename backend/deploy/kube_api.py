"""The few Kubernetes API calls the deployer needs, behind one small interface (a fake one in tests)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from common.errors import Unavailable

FIELD_MANAGER = "dayu"
KINDS = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("sedna.io/v1alpha1", "JointMultiEdgeService"),
)


class KubeApi(ABC):
    @abstractmethod
    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply of one object (created or updated, owned by the field manager `dayu`)."""

    @abstractmethod
    def delete(self, api_version: str, kind: str, namespace: str, selector: str) -> int:
        """Delete every object of a kind matching a label selector; returns how many."""

    @abstractmethod
    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Pods (as dicts) matching a label selector."""

    @abstractmethod
    def nodes(self) -> list[dict[str, Any]]:
        """Cluster nodes (as dicts)."""

    @abstractmethod
    def services(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Services (as dicts) matching a label selector."""


class ClusterApi(KubeApi):
    """The real cluster, through the ``kubernetes`` client's dynamic client."""

    def __init__(self, kubeconfig: str | None = None) -> None:
        from kubernetes import client, config, dynamic
        from kubernetes.config.config_exception import ConfigException

        try:
            if kubeconfig:
                config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            else:
                try:
                    config.load_incluster_config()  # type: ignore[no-untyped-call]
                except ConfigException:
                    config.load_kube_config()  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise Unavailable(f"no Kubernetes cluster configured: {exc}") from None
        self.dynamic = dynamic.DynamicClient(client.ApiClient())  # type: ignore[no-untyped-call]

    def _resource(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, obj: dict[str, Any]) -> None:
        resource = self._resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        resource.server_side_apply(
            body=obj,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )

    def delete(self, api_version: str, kind: str, namespace: str, selector: str) -> int:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            resource = self._resource(api_version, kind)
        except ResourceNotFoundError:
            return 0  # e.g. the Sedna CRD is not installed: nothing of that kind can exist
        scope = namespace or None  # cluster-scoped kinds (Namespace, ClusterRole) have none
        items = resource.get(namespace=scope, label_selector=selector).items
        for item in items:
            resource.delete(name=item.metadata.name, namespace=scope)
        return len(items)

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self._resource("v1", "Pod").get(namespace=namespace, label_selector=selector)
        return [item.to_dict() for item in result.items]

    def nodes(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self._resource("v1", "Node").get().items]

    def services(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self._resource("v1", "Service").get(namespace=namespace, label_selector=selector)
        return [item.to_dict() for item in result.items]
