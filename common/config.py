"""Config loading: YAML files into pydantic models, with errors naming the file and the line.

Also the base of every component's settings (pydantic-settings, ``DAYU_`` environment variables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_CONFIG_NODES = 20_000
"""YAML nodes a config may hold, counting each alias as the nodes it stands for (no config comes close;
a few hundred bytes of nested aliases stand for billions)."""


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ServiceSettings(BaseSettings):
    """Settings every component shares, read from ``DAYU_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DAYU_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    node: str = Field("cloud", min_length=1, description="Name of the node this component runs on.")
    token: str | None = Field(None, description="API token; none = open (development only).")
    read_token: str | None = Field(
        None, description="A second token, accepted for reads only (GET, HEAD); writes with it are refused 403."
    )
    topology: str | None = Field(None, description="Topology file path, or the topology as inline JSON.")
    work_dir: Path = Field(Path(".dayu/work"), description="The node's shared work directory.")
    log_level: str = Field("INFO", description=f"One of {', '.join(LOG_LEVELS)} (any case).")
    log_json: bool = Field(False, description="Log JSON lines instead of text.")
    max_json_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Body limit of a request read whole (JSON, text), unless its route sets one.",
    )
    max_body_bytes: int = Field(
        320 * 1024 * 1024,
        ge=1024,
        description="Body limit of a streamed request (multipart, segments), unless its route sets one.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(LOG_LEVELS)}")
        return level

    @classmethod
    def from_env(cls: type[S], **overrides: Any) -> S:
        """Read the settings, turning a bad variable into a :class:`ConfigError` that names it."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix") or "")
            problems = [
                {"variable": prefix + ".".join(str(p) for p in err["loc"]).upper(), "problem": err["msg"]}
                for err in exc.errors()
            ]
            text = "; ".join(f"${p['variable']}: {p['problem']}" for p in problems)
            raise ConfigError(f"bad settings: {text}", detail=problems) from None


S = TypeVar("S", bound=ServiceSettings)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers where each mapping key and sequence item starts, and stops composing
    once the document holds more nodes than any config needs."""

    composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.composed += 1
        if self.composed > MAX_CONFIG_NODES:
            raise _TooLarge(self.composed)
        return super().compose_node(parent, index)


class _TooLarge(Exception):
    def __init__(self, nodes: int) -> None:
        super().__init__(nodes)
        self.nodes = nodes


def _expanded_size(root: Any) -> int:
    """Nodes of the document with every alias expanded, counted without expanding (memoised per node);
    stops counting past the limit."""
    sizes: dict[int, int] = {}
    # Iterative post-order: a document nested a few thousand levels deep must not hit the recursion limit.
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done:
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[id(node)] = min(total, MAX_CONFIG_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _yaml_error(exc: yaml.YAMLError, source: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = getattr(exc, "problem", None) or str(exc)
    return ConfigError(
        f"{where}: invalid YAML: {problem}", detail={"file": source, "line": mark.line + 1 if mark else None}
    )


def _compose_marks(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        nodes = _expanded_size(node) if node is not None else 0
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply", detail={"file": source}) from None
    except _TooLarge as exc:
        nodes = exc.nodes
    if nodes > MAX_CONFIG_NODES:
        raise ConfigError(
            f"{source}: too many YAML nodes (more than {MAX_CONFIG_NODES}, counting what each alias stands for)",
            detail={"file": source, "limit": MAX_CONFIG_NODES},
        )
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: Any, path: tuple[Any, ...]) -> None:
        if n is None:
            return
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            first_seen: dict[Any, int] = {}
            for key, value in n.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    # YAML would silently keep the last one: almost always a mistake worth naming.
                    if key.value in first_seen:
                        raise ConfigError(
                            f"{source}:{line}: duplicate key {key.value!r} (first at line {first_seen[key.value]})",
                            detail={"file": source, "line": line, "key": key.value},
                        )
                    first_seen[key.value] = line
                lines[(*path, key.value)] = line
                walk(value, (*path, key.value))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    try:
        walk(node, ())
        # Tags the safe loader does not know (e.g. !!python/object) only fail here, at construction.
        data = yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply", detail={"file": source}) from None
    return data, lines


def _line_of(lines: dict[tuple[Any, ...], int], loc: Sequence[Any]) -> int | None:
    path = tuple(loc)
    while True:
        # pydantic may report an int index as int or str; try both spellings
        for candidate in (path, tuple(str(p) for p in path)):
            if candidate in lines:
                return lines[candidate]
        if not path:
            return None
        path = path[:-1]


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 80


def parse_model(data: Any, model: type[M], *, source: str, lines: dict[tuple[Any, ...], int] | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems: list[dict[str, Any]] = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            # A hook choice names the parameter at fault below the field it validates (common.registry).
            loc += list((err.get("ctx") or {}).get("path", ()))
            line = _line_of(lines or {}, loc)
            field = ".".join(str(p) for p in loc) or "(root)"
            problem = err["msg"]
            if err["type"] not in ("hook_params", "hook_alias", "missing") and _scalar(err.get("input")):
                problem += f" (got {err['input']!r})"
            problems.append({"file": source, "line": line, "field": field, "problem": problem})
        first = problems[0]
        where = f"{first['file']}:{first['line']}" if first["line"] else first["file"]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{where}: {first['field']}: {first['problem']}{more}", detail=problems) from None


def parse_yaml_model(text: str, model: type[M], *, source: str = "<yaml>") -> M:
    """Validate YAML text against ``model``; errors say ``file:line: field: problem``."""
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES} bytes")
    data, lines = _compose_marks(text, source)
    if data is None:
        raise ConfigError(f"{source}: the document is empty", detail={"file": source})
    return parse_model(data, model, source=source, lines=lines)


def _read_config(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes", detail={"file": str(path)})
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", detail={"file": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", detail={"file": str(path)}) from None


def load_yaml_model(path: Path, model: type[M]) -> M:
    return parse_yaml_model(_read_config(path), model, source=str(path))


def load_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Raw YAML data and the line of every key/item (for validation done by hand)."""
    return _compose_marks(_read_config(path), str(path))


def load_component_config(value: str | None, model: type[M], *, var: str = "DAYU_CONFIG") -> M:
    """A component's own config from ``$DAYU_CONFIG``: a YAML/JSON file path, inline JSON, or unset (defaults)."""
    if value is None or not value.strip():
        return parse_model({}, model, source=f"${var}")
    text = value.strip()
    if text.startswith("{"):
        return parse_yaml_model(text, model, source=f"${var}")  # JSON is YAML; errors keep their line
    return load_yaml_model(Path(text), model)
