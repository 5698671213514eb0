"""Config loading: YAML files into pydantic models, with errors naming the file and the line.

Also the base of every component's settings (pydantic-settings, ``DAYU_`` environment variables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ServiceSettings(BaseSettings):
    """Settings every component shares, read from ``DAYU_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DAYU_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    node: str = "cloud"
    token: str | None = None
    topology: str | None = None
    work_dir: Path = Path(".dayu/work")
    log_level: str = "INFO"
    log_json: bool = False


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers where each mapping key and sequence item starts."""


def _compose_marks(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}", detail={"file": source}) from None
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: Any, path: tuple[Any, ...]) -> None:
        if n is None:
            return
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                lines[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(node, ())
    data = yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None
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


def parse_model(data: Any, model: type[M], *, source: str, lines: dict[tuple[Any, ...], int] | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems: list[dict[str, Any]] = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = _line_of(lines or {}, loc)
            field = ".".join(str(p) for p in loc) or "(root)"
            problems.append({"file": source, "line": line, "field": field, "problem": err["msg"]})
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


def load_yaml_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", detail={"file": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", detail={"file": str(path)}) from None
    return parse_yaml_model(text, model, source=str(path))


def load_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Raw YAML data and the line of every key/item (for validation done by hand)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", detail={"file": str(path)}) from None
    return _compose_marks(text, str(path))


def load_component_config(value: str | None, model: type[M], *, var: str = "DAYU_CONFIG") -> M:
    """A component's own config from ``$DAYU_CONFIG``: a YAML/JSON file path, inline JSON, or unset (defaults)."""
    if value is None or not value.strip():
        return parse_model({}, model, source=f"${var}")
    text = value.strip()
    if text.startswith("{"):
        return parse_yaml_model(text, model, source=f"${var}")  # JSON is YAML; errors keep their line
    return load_yaml_model(Path(text), model)
