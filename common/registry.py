"""Hook registry: families of small pluggable behaviours, selected by alias from templates.

A hook is a class with an ``alias``, a ``family`` and a pydantic ``Config`` model (unknown keys are
refused). Hooks register with the :func:`hook` decorator when their module is imported. A family may
also name modules to import lazily (:meth:`HookRegistry.declare_modules`); a module whose optional
dependency is missing is skipped with one warning and never hides the other hooks of its family.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError, core_schema

from common.errors import HookError

log = logging.getLogger(__name__)


class HookConfig(BaseModel):
    """Base of every hook's config model: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")


class HookChoice(BaseModel):
    """A template's choice of one hook: its alias and its parameters (validated by the hook's Config)."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1, description="Alias of the hook in its family.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for the hook's Config model.")


class Hook:
    """Base class of every hook. Subclasses set ``Config`` to their own :class:`HookConfig`."""

    family: ClassVar[str] = ""
    alias: ClassVar[str] = ""
    Config: ClassVar[type[HookConfig]] = HookConfig

    def __init__(self, config: HookConfig) -> None:
        self.config = config


H = TypeVar("H", bound=type[Hook])


class HookRegistry:
    """Maps ``(family, alias)`` to hook classes."""

    def __init__(self) -> None:
        self._hooks: dict[str, dict[str, type[Hook]]] = {}
        self._pending: dict[str, list[str]] = {}
        self._skipped: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        # Held while a family's modules import, so a second thread never sees a half-loaded family.
        self._load_lock = threading.RLock()

    def register(self, family: str, alias: str, cls: type[Hook]) -> None:
        if not family or not alias:
            raise HookError("a hook needs a non-empty family and alias")
        if not (isinstance(cls.Config, type) and issubclass(cls.Config, HookConfig)):
            raise HookError(f"hook {family}/{alias}: Config must subclass HookConfig")
        if cls.Config.model_config.get("extra") != "forbid":
            raise HookError(f"hook {family}/{alias}: Config must refuse unknown keys (extra='forbid')")
        with self._lock:
            known = self._hooks.setdefault(family, {})
            existing = known.get(alias)
            # The same class defined again (a module reloaded) replaces itself; another class may not.
            same = existing is not None and (existing.__module__, existing.__qualname__) == (
                cls.__module__,
                cls.__qualname__,
            )
            if existing is not None and existing is not cls and not same:
                raise HookError(
                    f"hook alias {alias!r} is already registered in family {family!r} "
                    f"by {existing.__module__}.{existing.__qualname__}"
                )
            known[alias] = cls
        cls.family = family
        cls.alias = alias

    def declare_modules(self, family: str, modules: Iterable[str]) -> None:
        """Name modules that register hooks of ``family``; they are imported on first use."""
        with self._lock:
            self._pending.setdefault(family, []).extend(modules)
            self._hooks.setdefault(family, {})

    def _load_pending(self, family: str) -> None:
        with self._load_lock:
            with self._lock:
                modules = self._pending.pop(family, [])
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception as exc:
                    # A missing optional dependency (or one that fails to initialise, such as a GPU
                    # binding on a machine without a GPU) skips this module only, with one warning.
                    reason = f"{type(exc).__name__}: {exc}"
                    self._skipped.setdefault(family, {})[name] = reason
                    log.warning("%s hooks of module %s skipped: %s", family, name, reason)

    def families(self) -> list[str]:
        return sorted(set(self._hooks) | set(self._pending))

    def aliases(self, family: str) -> list[str]:
        self._load_pending(family)
        return sorted(self._hooks.get(family, {}))

    def skipped(self, family: str) -> dict[str, str]:
        """Modules of ``family`` that could not be imported, with the reason."""
        self._load_pending(family)
        return dict(self._skipped.get(family, {}))

    def get(self, family: str, alias: str) -> type[Hook]:
        self._load_pending(family)
        if family not in self._hooks:
            raise HookError(
                f"unknown hook family {family!r}; known families: {', '.join(self.families()) or 'none'}",
                detail={"family": family, "known": self.families()},
            )
        cls = self._hooks[family].get(alias)
        if cls is None and "_" in alias and alias.replace("_", "-") in self._hooks[family]:
            new = alias.replace("_", "-")
            raise HookError(
                f"{family} hook {alias!r} is now spelled {new!r} (hook aliases are kebab-case)",
                detail={"family": family, "alias": alias, "spelled": new},
            )
        if cls is None:
            known = self.aliases(family)
            skipped = self._skipped.get(family, {})
            why = "".join(f"; module {m} was skipped ({r})" for m, r in sorted(skipped.items()))
            raise HookError(
                f"unknown {family} hook {alias!r}; known: {', '.join(known) or 'none'}{why}",
                detail={"family": family, "alias": alias, "known": known, "skipped": dict(skipped)},
            )
        return cls

    def make_config(self, family: str, alias: str, params: Mapping[str, Any] | None = None) -> HookConfig:
        cls = self.get(family, alias)
        if params is not None and not isinstance(params, Mapping):
            raise HookError(
                f"parameters of {family} hook {alias!r} must be a mapping, got {type(params).__name__}",
                detail={"family": family, "alias": alias},
            )
        try:
            return cls.Config.model_validate(dict(params or {}))
        except PydanticValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "problem": err["msg"]}
                for err in exc.errors()
            ]
            text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
            raise HookError(f"bad parameters for {family} hook {alias!r}: {text}", detail=problems) from None

    def create(self, family: str, alias: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Instantiate hook ``alias`` of ``family`` with validated ``params``.

        Extra keyword arguments (runtime context such as a work directory) go to the constructor.
        """
        cls = self.get(family, alias)
        config = self.make_config(family, alias, params)
        return cls(config, **kwargs)

    def describe(self, family: str) -> list[dict[str, Any]]:
        """Aliases of a family with their config JSON Schemas (for docs and the dashboard)."""
        self._load_pending(family)
        return [
            {"alias": alias, "doc": (cls.__doc__ or "").strip(), "config": cls.Config.model_json_schema()}
            for alias, cls in sorted(self._hooks.get(family, {}).items())
        ]


REGISTRY = HookRegistry()
"""The process-wide registry that the :func:`hook` decorator fills (a plugin table, not app state)."""


def hook(family: str, alias: str, registry: HookRegistry | None = None) -> Callable[[H], H]:
    """Class decorator registering a hook under ``alias`` in ``family``."""

    def decorate(cls: H) -> H:
        (registry or REGISTRY).register(family, alias, cls)
        return cls

    return decorate


SKIPPED_MODULES_UNCHECKED: ContextVar[bool] = ContextVar("skipped_modules_unchecked", default=False)
"""Set by a validator that runs on another host than the component (the backend): an unknown alias is let
through when it is the alias of a module of its family that was skipped here for a missing optional
dependency (torch, tensorrt); the component checks it again when it loads its config. Any other unknown
alias is refused as usual."""


def skipped_aliases(skipped: dict[str, str]) -> set[str]:
    """The aliases the skipped modules would have registered: a hook module is named after its alias
    (``agents/hei_nf.py`` registers ``hei-nf``; ``tests/common/test_registry_names.py`` holds every module
    to it), so the alias is known without importing the module."""
    return {module.rsplit(".", 1)[-1].replace("_", "-") for module in skipped}


@contextmanager
def skipped_modules_unchecked() -> Iterator[None]:
    token = SKIPPED_MODULES_UNCHECKED.set(True)
    try:
        yield
    finally:
        SKIPPED_MODULES_UNCHECKED.reset(token)


@dataclass(frozen=True)
class HookFamily:
    """Marks a config field as choosing a hook of ``family``, checked when the config is loaded.

    On a :class:`HookChoice` field (``Annotated[HookChoice, HookFamily("source")]``) the alias must be
    registered and the params must validate against that hook's Config; on a ``str`` field the alias must be
    registered (a hook without parameters). ``late_params``: required parameters may be missing (they are
    given later, e.g. a stream URL when a source is opened); anything that is given is checked.
    """

    family: str
    late_params: bool = False
    registry: HookRegistry | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        check = self._check_alias if source is str else self._check_choice
        return core_schema.no_info_after_validator_function(check, handler(source))

    def _get(self, alias: str, path: tuple[str, ...]) -> type[Hook] | None:
        registry = self.registry or REGISTRY
        try:
            return registry.get(self.family, alias)
        except HookError as exc:
            if SKIPPED_MODULES_UNCHECKED.get() and alias in skipped_aliases(registry.skipped(self.family)):
                return None  # a plugin whose optional dependency only the component's own host may have
            raise PydanticCustomError("hook_alias", "{message}", {"message": exc.message, "path": path}) from None

    def _check_alias(self, alias: str) -> str:
        self._get(alias, ())
        return alias

    def _check_choice(self, choice: HookChoice) -> HookChoice:
        cls = self._get(choice.alias, ("alias",))
        if cls is None:
            return choice
        try:
            cls.Config.model_validate(choice.params)
        except PydanticValidationError as exc:
            errors = [e for e in exc.errors() if not (self.late_params and e["type"] == "missing")]
            if errors:
                err = errors[0]
                # The path goes in the context: common.config.parse_model adds it to the location (and line).
                given = f" (got {err['input']!r})" if isinstance(err["input"], str | int | float | bool) else ""
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                message = f"{self.family} hook {choice.alias!r}: {err['msg']}{given}{more}"
                raise PydanticCustomError(
                    "hook_params", "{message}", {"message": message, "path": ("params", *err["loc"])}
                ) from None
        return choice
