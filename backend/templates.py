"""Templates and catalogs (``template/``): models, loading with includes, cross-reference checks.

Every error names the file and, where it can be known, the line (``file:line: field: problem``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.config import load_yaml, parse_model
from common.dag import DagSpec, ServiceType, build_dag
from common.errors import ConfigError, DagError
from common.topology import LinkModel

M = TypeVar("M", bound=BaseModel)
ID_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
COMPONENTS = ("generator", "controller", "processor", "distributor", "scheduler", "monitor")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def project_version() -> str:
    """The installed project's version: images are tagged with it unless base.yaml says otherwise."""
    try:
        return version("dayu")
    except PackageNotFoundError:  # running from a source tree that was never installed
        import tomllib

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


class ImageSettings(_Model):
    registry: str = Field("docker.io", description="Image registry host.")
    repository: str = Field("dayuhub", description="Repository (namespace) under the registry.")
    tag: str = Field(default_factory=project_version, description="Image tag (default: the project version).")

    def reference(self, component: str) -> str:
        return f"{self.registry}/{self.repository}/{component}:{self.tag}"


QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
"""A Kubernetes resource quantity as Dayu writes them (``500m``, ``2``, ``512Mi``)."""


class ResourceAmounts(_Model):
    cpu: str | None = Field(None, pattern=QUANTITY, description="CPU in cores (`2`) or millicores (`500m`).")
    memory: str | None = Field(None, pattern=QUANTITY, description="Memory in bytes with a suffix (`512Mi`).")


class Resources(_Model):
    """CPU and memory a workload's container asks for and may not exceed (Kubernetes requests and limits);
    unset amounts take the component's defaults."""

    requests: ResourceAmounts = Field(default_factory=ResourceAmounts, description="Reserved for it on its node.")
    limits: ResourceAmounts = Field(default_factory=ResourceAmounts, description="Never more than this.")


RESOURCE_COMPONENTS = (
    "generator",
    "controller",
    "processor",
    "distributor",
    "scheduler",
    "monitor",
    "backend",
    "datasource",
)


class GpuSettings(_Model):
    sharing: Literal["exclusive", "time-slicing"] = Field(
        "exclusive",
        description="exclusive: each GPU processor pod gets a whole GPU (render refuses a node with too few); "
        "time-slicing: NVIDIA's device plugin advertises each GPU `replicas` times and pods share it.",
    )
    replicas: int = Field(4, ge=2, le=64, description="With time-slicing: GPU processor pods per physical GPU.")
    device_plugin_namespace: str = Field(
        "nvidia-device-plugin", description="Namespace of NVIDIA's device plugin (where its sharing config goes)."
    )


class KubernetesSettings(_Model):
    mode: Literal["sedna", "runtime-service", "native"] = Field(
        "native",
        description="sedna: a JointMultiEdgeService per workload; runtime-service: a RuntimeService per workload "
        "and revision (both need the dayu-sedna controller); native: plain Deployments and Services.",
    )
    kubeconfig: str | None = Field(None, description="Kubeconfig file; null: in-cluster, then ~/.kube/config.")
    ready_timeout_s: float = Field(300, gt=0, description="How long to wait for workloads to become ready.")
    gpu: GpuSettings = Field(default_factory=GpuSettings, description="How GPU processors share a node's GPUs.")
    resources: dict[str, Resources] = Field(
        default_factory=dict,
        description=f"CPU and memory per component ({', '.join(RESOURCE_COMPONENTS)}), over the defaults.",
    )

    @field_validator("resources")
    @classmethod
    def _known_components(cls, value: dict[str, Resources]) -> dict[str, Resources]:
        unknown = sorted(set(value) - set(RESOURCE_COMPONENTS))
        if unknown:
            raise ValueError(f"unknown components {unknown}; known: {', '.join(RESOURCE_COMPONENTS)}")
        return value

    network: Literal["service", "host"] = Field(
        "service",
        description="service: components reach each other by Service names (edge pods need EdgeMesh on KubeEdge); "
        "host: host networking, components reach each other at node address and port.",
    )


class EndpointSettings(_Model):
    host: str = Field("127.0.0.1", description="Listening address.")
    port: int = Field(ge=1, le=65535, description="Listening port.")


class DatasourceSettings(EndpointSettings):
    root: str = Field(".dayu/datasets", description="Directory of the datasets the datasource serves.")


class LocalNode(_Model):
    role: Literal["cloud", "edge"] = Field(description="Exactly one node is the cloud.")
    arch: str = Field("amd64", description="CPU architecture (picks the image variant on a cluster).")
    labels: dict[str, str] = Field(default_factory=dict, description="Free labels shown in the node catalog.")
    cpu_quota: float | None = Field(
        None,
        gt=0,
        le=1024,
        description="Cores the node's processes may use together (a cgroup CPU quota where the local runtime may "
        "use cgroups); none: unlimited.",
    )


class LocalSettings(_Model):
    run_dir: str = Field(".dayu/run", description="pid files, logs, node work directories, topology file.")
    nodes: dict[str, LocalNode] = Field(min_length=1, description="Virtual nodes of the local runtime.")
    links: list[LinkModel] = Field(default_factory=list, description="Shaped links between virtual nodes.")
    link_mode: Literal["auto", "process", "netns"] = Field(
        "process",
        description="netns: each node a network namespace, links shaped by tc (root); process: each sender "
        "shapes its transfers; auto: netns where possible. netns falls back to process where it cannot run.",
    )


class InstallSettings(_Model):
    stage_timeout_s: float = Field(90, gt=0, le=3600, description="Each install stage must be healthy within this.")
    redeploy_interval_s: float = Field(0, ge=0, description="Periodic redeployment interval; 0 = off.")


class RetentionSettings(_Model):
    max_results: int = Field(100000, ge=1, description="Results and drops kept per source.")
    max_system_snapshots: int = Field(2000, ge=1, description="System snapshots kept by the backend.")


class Defaults(_Model):
    policy: str = Field(description="Policy id used when an install names none.")
    dag: str = Field(description="Name of a DAG of `dags` installed by `dayuctl quickstart`.")
    datasource: str = Field(description="Datasource config file loaded at first start.")


class Includes(_Model):
    policies: str = Field("scheduler_policies.yaml", description="Policy catalog file.")
    services: str = Field("services.yaml", description="Service catalog file.")
    result_visualizations: str = Field("result_visualizations.yaml", description="Per-source view catalog.")
    system_visualizations: str = Field("system_visualizations.yaml", description="System view catalog.")


class BaseTemplate(_Model):
    namespace: str = Field("dayu", pattern=ID_PATTERN, max_length=63, description="Kubernetes namespace.")
    runtime: Literal["local", "kubernetes"] = Field("local", description="Where the components run.")
    kubernetes: KubernetesSettings = Field(default_factory=lambda: KubernetesSettings())
    image: ImageSettings = Field(default_factory=lambda: ImageSettings())
    backend: EndpointSettings = Field(default_factory=lambda: EndpointSettings(port=8900))
    datasource: DatasourceSettings = Field(default_factory=lambda: DatasourceSettings(port=8901))
    local: LocalSettings
    install: InstallSettings = Field(default_factory=lambda: InstallSettings())
    log_retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())
    defaults: Defaults
    dags: dict[str, DagSpec] = Field(default_factory=dict, description="DAGs created at first start.")
    includes: Includes = Field(default_factory=lambda: Includes())


class PolicySpec(_Model):
    id: str = Field(pattern=ID_PATTERN, max_length=63, description="Policy id.")
    name: str = Field(description="Human name.")
    description: str = Field("", description="What the policy does.")
    scheduler: str = Field(description="Scheduler component template.")
    generator: str = Field(description="Generator component template.")
    controller: str = Field(description="Controller component template.")
    distributor: str = Field(description="Distributor component template.")
    monitor: str = Field(description="Monitor component template.")

    def component_templates(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in COMPONENTS if c != "processor"}


class ServiceSpec(_Model):
    id: str = Field(pattern=ID_PATTERN, max_length=40, description="Service id used in DAGs.")
    name: str = Field(description="Human name.")
    description: str = Field("", description="What the service does.")
    input: str = Field(description="Type consumed: frame, bbox, text, ... or any.")
    output: str = Field(description="Type produced.")
    template: str = Field(description="Processor component template.")


class VisualizationSpec(_Model):
    id: str = Field(pattern=ID_PATTERN, max_length=63, description="View id.")
    name: str = Field(description="Title shown above the view.")
    type: Literal["image", "curve", "cdf", "bar", "topology", "table"] = Field(description="How to draw it.")
    variables: list[str] = Field(min_length=1, description="Data keys the view draws.")
    size: int = Field(1, ge=1, le=4, description="Width in dashboard columns.")


class ComponentTemplate(_Model):
    component: Literal["generator", "controller", "processor", "distributor", "scheduler", "monitor"]
    image: str = Field(description="Image component name, e.g. `processor`.")
    gpu_variants: bool = Field(False, description="Has -gpu and -jetson5/-jetson6 image variants.")
    position: Literal["cloud", "edge", "both"] = Field(description="Where instances may run.")
    port: int = Field(ge=1, le=65535, description="Container port (kubernetes); local ports are assigned.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    config: dict[str, Any] = Field(default_factory=dict, description="Component config (DAYU_CONFIG).")
    source: str = Field("", exclude=True, description="File it was read from (for error messages).")
    config_lines: dict[tuple[Any, ...], int] = Field(
        default_factory=dict, exclude=True, description="Line of every key under `config` (for error messages)."
    )


class Template:
    """Everything under one template directory, loaded and cross-checked."""

    def __init__(
        self,
        root: Path,
        base: BaseTemplate,
        policies: dict[str, PolicySpec],
        services: dict[str, ServiceSpec],
        result_views: list[VisualizationSpec],
        system_views: list[VisualizationSpec],
        components: dict[str, ComponentTemplate],
    ) -> None:
        self.root = root
        self.base = base
        self.policies = policies
        self.services = services
        self.result_views = result_views
        self.system_views = system_views
        self.components = components

    def service_types(self) -> dict[str, ServiceType]:
        return {sid: ServiceType(input=s.input, output=s.output) for sid, s in self.services.items()}

    def component(self, rel: str) -> ComponentTemplate:
        return self.components[rel]

    def path(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p


def _load_list(path: Path, model: type[M], kind: str) -> list[M]:
    data, lines = load_yaml(path)
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}:1: a non-empty list of {kind} entries is expected", detail={"file": str(path)})
    items: list[M] = []
    seen: set[str] = set()
    for i, raw in enumerate(data):
        # Keys of item i keep their own lines; the location shown is "i.field".
        item_lines = {k: v for k, v in lines.items() if k[:1] == (i,)}
        item = parse_model(raw, model, source=str(path), lines=_prefixed(item_lines, i))
        ident = str(getattr(item, "id", i))
        if ident in seen:
            raise _ref_error(path, lines, (i, "id"), f"duplicate {kind} id {ident!r}")
        seen.add(ident)
        items.append(item)
    return items


def _prefixed(lines: dict[tuple[Any, ...], int], index: int) -> dict[tuple[Any, ...], int]:
    # parse_model reports locations relative to the item; map them back to the item's lines.
    return {k[1:]: v for k, v in lines.items()}


def _ref_error(path: Path, lines: dict[tuple[Any, ...], int], key: tuple[Any, ...], message: str) -> ConfigError:
    line = lines.get(key)
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {message}", detail={"file": str(path), "line": line})


def load_component(path: Path) -> ComponentTemplate:
    data, lines = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: the document is empty", detail={"file": str(path)})
    comp = parse_model(data, ComponentTemplate, source=str(path), lines=lines)
    comp.source = str(path)
    comp.config_lines = {k[1:]: v for k, v in lines.items() if k[:1] == ("config",)}
    return comp


def load_template(root: str | Path) -> Template:
    """Load ``<root>/base.yaml``, its includes and every component template they name."""
    root = Path(root).resolve()
    base_path = root / "base.yaml"
    data, base_lines = load_yaml(base_path)
    if data is None:
        raise ConfigError(f"{base_path}: the document is empty", detail={"file": str(base_path)})
    base = parse_model(data, BaseTemplate, source=str(base_path), lines=base_lines)

    clouds = [n for n, spec in base.local.nodes.items() if spec.role == "cloud"]
    if len(clouds) != 1:
        raise _ref_error(base_path, base_lines, ("local", "nodes"), f"exactly one cloud node is required: {clouds}")
    for i, link in enumerate(base.local.links):
        for end in (link.a, link.b):
            if end not in base.local.nodes:
                raise _ref_error(base_path, base_lines, ("local", "links", i), f"link names unknown node {end!r}")

    inc = base.includes
    policies_path, services_path = root / inc.policies, root / inc.services
    policies = {p.id: p for p in _load_list(policies_path, PolicySpec, "policy")}
    services = {s.id: s for s in _load_list(services_path, ServiceSpec, "service")}
    result_views = _load_list(root / inc.result_visualizations, VisualizationSpec, "visualization")
    system_views = _load_list(root / inc.system_visualizations, VisualizationSpec, "visualization")

    components: dict[str, ComponentTemplate] = {}
    _, policy_lines = load_yaml(policies_path)
    for i, policy in enumerate(policies.values()):
        for component, rel in policy.component_templates().items():
            _check_component(root, rel, component, components, policies_path, policy_lines, (i, component))
    _, service_lines = load_yaml(services_path)
    for i, service in enumerate(services.values()):
        _check_component(root, service.template, "processor", components, services_path, service_lines, (i, "template"))

    template = Template(root, base, policies, services, result_views, system_views, components)
    if base.defaults.policy not in policies:
        raise _ref_error(
            base_path,
            base_lines,
            ("defaults", "policy"),
            f"unknown policy {base.defaults.policy!r}; known: {', '.join(sorted(policies))}",
        )
    if base.defaults.dag not in base.dags:
        raise _ref_error(base_path, base_lines, ("defaults", "dag"), f"unknown DAG {base.defaults.dag!r}")
    if not (root / base.defaults.datasource).is_file():
        raise _ref_error(base_path, base_lines, ("defaults", "datasource"), "no such datasource config file")
    for name, spec in base.dags.items():
        try:
            build_dag(spec, template.service_types())
        except DagError as exc:
            raise _ref_error(base_path, base_lines, ("dags", name), f"DAG {name!r}: {exc.message}") from None
    return template


def _check_component(
    root: Path,
    rel: str,
    component: str,
    cache: dict[str, ComponentTemplate],
    catalog: Path,
    lines: dict[tuple[Any, ...], int],
    key: tuple[Any, ...],
) -> None:
    path = (root / rel).resolve()
    if root not in path.parents:
        raise _ref_error(catalog, lines, key, f"template {rel!r} lies outside the template directory")
    if not path.is_file():
        raise _ref_error(catalog, lines, key, f"no such component template {rel!r}")
    if rel not in cache:
        cache[rel] = load_component(path)
    if cache[rel].component != component:
        raise _ref_error(catalog, lines, key, f"{rel!r} is a {cache[rel].component} template, not a {component} one")
