"""How GPU processors share a node's GPUs on a cluster (``kubernetes.gpu`` of the template).

A processor on a ``-gpu`` image asks for ``nvidia.com/gpu: 1``; the NVIDIA device plugin advertises what a
node has. Two choices:

- ``exclusive`` (default): one whole GPU per processor pod. A node with fewer GPUs than the GPU processors
  placed on it would leave the extra pods Pending for ever, so rendering refuses it, naming the node, its
  GPUs and the processors.
- ``time-slicing``: the device plugin's sharing configuration advertises every GPU ``replicas`` times
  (:func:`device_plugin_config`, applied by the cluster's administrator to the plugin); several processor pods
  then share one GPU, interleaved in time, with no memory isolation between them.

One processor pod serving several services is not offered: a processor runs one service.
The GPUs of a node are its allocatable ``nvidia.com/gpu`` (what the plugin advertises, time-slicing
included), else GPU feature discovery's labels ``nvidia.com/gpu.count`` times ``nvidia.com/gpu.replicas``;
a node without either is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from backend.templates import GpuSettings
from common.errors import ConfigError
from common.workload import Workload

GPU_RESOURCE = "nvidia.com/gpu"
COUNT_LABEL = "nvidia.com/gpu.count"
REPLICAS_LABEL = "nvidia.com/gpu.replicas"
SHARING_CONFIGMAP = "dayu-gpu-sharing"


def uses_gpu(w: Workload) -> bool:
    from backend.deploy.kube_render import image_variant

    return w.component == "processor" and image_variant(w.image or "") == "gpu"


def node_gpus(raw_nodes: Sequence[dict[str, Any]], settings: GpuSettings) -> dict[str, int]:
    """GPUs each node offers to pods (only nodes that say)."""
    out: dict[str, int] = {}
    for raw in raw_nodes:
        name = raw["metadata"]["name"]
        allocatable = ((raw.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
        labels = raw["metadata"].get("labels") or {}
        if allocatable is not None:
            out[name] = int(allocatable)
        elif COUNT_LABEL in labels:
            default = settings.replicas if settings.sharing == "time-slicing" else 1
            out[name] = int(labels[COUNT_LABEL]) * int(labels.get(REPLICAS_LABEL, default))
    return out


def placed(workloads: Sequence[Workload]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w in workloads:
        if uses_gpu(w):
            out.setdefault(w.node, []).append(w.service or w.name)
    return out


def check(workloads: Sequence[Workload], gpus: Mapping[str, int], settings: GpuSettings) -> None:
    """Refuse a placement that asks a node for more GPUs than it offers."""
    for node, services in sorted(placed(workloads).items()):
        have = gpus.get(node)
        if have is None or len(services) <= have:
            continue
        if settings.sharing == "exclusive":
            hint = (
                "set kubernetes.gpu.sharing: time-slicing (and apply the device plugin's sharing config that "
                "`dayuctl render` writes), or place fewer GPU processors on it"
            )
        else:
            hint = (
                f"apply the device plugin's time-slicing config (replicas: {settings.replicas}, written by "
                "`dayuctl render`) so that it advertises more, or raise kubernetes.gpu.replicas"
            )
        raise ConfigError(
            f"node {node!r} offers {have} GPU(s) ({GPU_RESOURCE}) but {len(services)} GPU processors are placed "
            f"on it ({', '.join(sorted(services))}) with kubernetes.gpu.sharing: {settings.sharing}; {hint}",
            detail={"node": node, "gpus": have, "processors": sorted(services)},
        )


def summary(workloads: Sequence[Workload], gpus: Mapping[str, int], settings: GpuSettings) -> list[str]:
    """One line per node with GPU processors: what runs there and on how many GPUs."""
    lines = []
    shared = f", time-slicing x{settings.replicas}" if settings.sharing == "time-slicing" else ", one GPU each"
    for node, services in sorted(placed(workloads).items()):
        have = gpus.get(node)
        offered = f"{have} offered" if have is not None else "GPUs not known"
        lines.append(f"GPU processors on {node}: {len(services)} ({', '.join(sorted(services))}); {offered}{shared}")
    return lines


def device_plugin_config(settings: GpuSettings, namespace: str) -> dict[str, Any]:
    """The NVIDIA device plugin's sharing configuration (its ``config`` file format, version v1), as a
    ConfigMap for the plugin's namespace: every GPU advertised ``replicas`` times."""
    config = {
        "version": "v1",
        "sharing": {"timeSlicing": {"resources": [{"name": GPU_RESOURCE, "replicas": settings.replicas}]}},
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": SHARING_CONFIGMAP, "namespace": namespace},
        "data": {"dayu": yaml.safe_dump(config, sort_keys=False)},
    }
