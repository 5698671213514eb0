"""The few Kubernetes API calls the deployer needs, behind one small interface (a fake one in tests)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from common.errors import Unavailable

FIELD_MANAGER = "dayu"


class KubeApi(ABC):
    """``namespace`` is ``""`` for cluster-scoped kinds (Node, Namespace, ClusterRole, CRDs)."""

    @abstractmethod
    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply of one object (created or updated, owned by the field manager `dayu`)."""

    @abstractmethod
    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object (as a dict), None when it does not exist (or its kind is unknown to the cluster)."""

    @abstractmethod
    def list_objects(self, api_version: str, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Objects of a kind matching a label selector (``""``: all); empty when the kind is unknown."""

    @abstractmethod
    def delete_named(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        """Delete one object; False when it did not exist."""

    def delete(self, api_version: str, kind: str, namespace: str, selector: str) -> int:
        """Delete every object of a kind matching a label selector; returns how many."""
        items = self.list_objects(api_version, kind, namespace, selector)
        return sum(self.delete_named(api_version, kind, namespace, o["metadata"]["name"]) for o in items)

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return self.list_objects("v1", "Pod", namespace, selector)

    def services(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return self.list_objects("v1", "Service", namespace, selector)

    def nodes(self) -> list[dict[str, Any]]:
        return self.list_objects("v1", "Node", "", "")


def _reason(exc: Exception) -> str:
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    return f"{status} {reason}".strip() if status or reason else str(exc)


class ClusterApi(KubeApi):
    """The real cluster, through the ``kubernetes`` client's dynamic client. API errors become
    :class:`Unavailable` naming the call and the API server's reason (e.g. ``403 Forbidden``)."""

    def __init__(self, kubeconfig: str | None = None, *, discovery_cache: str | None = None) -> None:
        """``discovery_cache``: where the client keeps the API server's discovery (default: a file per server
        address in the temporary directory)."""
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
        self.dynamic = dynamic.DynamicClient(client.ApiClient(), cache_file=discovery_cache)  # type: ignore[no-untyped-call]

    def _resource(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return None  # e.g. the Sedna CRD is not installed

    def apply(self, obj: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        meta = obj["metadata"]
        what = f"{obj['kind']} {meta['name']!r}"
        resource = self._resource(obj["apiVersion"], obj["kind"])
        if resource is None:
            raise Unavailable(f"cannot apply {what}: the cluster does not know {obj['apiVersion']} {obj['kind']}")
        try:
            resource.server_side_apply(
                body=obj,
                name=meta["name"],
                namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )
        except ApiException as exc:
            raise Unavailable(f"cannot apply {what}: {_reason(exc)}", detail={"body": exc.body}) from None

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        resource = self._resource(api_version, kind)
        if resource is None:
            return None
        try:
            item: dict[str, Any] = resource.get(name=name, namespace=namespace or None).to_dict()
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise Unavailable(f"cannot read {kind} {name!r}: {_reason(exc)}") from None
        return item

    def list_objects(self, api_version: str, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        from kubernetes.client.exceptions import ApiException

        resource = self._resource(api_version, kind)
        if resource is None:
            return []
        try:
            result = resource.get(namespace=namespace or None, label_selector=selector or None)
        except ApiException as exc:
            raise Unavailable(f"cannot list {kind} ({selector or 'all'}): {_reason(exc)}") from None
        return [item.to_dict() for item in result.items]

    def delete_named(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        resource = self._resource(api_version, kind)
        if resource is None:
            return False
        try:
            # Background: the garbage collector removes what the object owns (a Deployment's pods).
            resource.delete(name=name, namespace=namespace or None, propagation_policy="Background")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise Unavailable(f"cannot delete {kind} {name!r}: {_reason(exc)}") from None
        return True
