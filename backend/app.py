"""The backend app: catalogs, DAGs, datasources, install, query, results, system, exports, dashboard."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from backend.datasource_config import parse_datasource
from backend.deploy.factory import make_deployer
from backend.plane import ControlPlane
from backend.routers import bench, catalog, dags, datasources, install, query, results, system, visualizations
from backend.settings import BackendSettings
from backend.store import Store
from backend.templates import Template, load_template
from common.errors import ConfigError, Conflict
from common.private import private_dir, write_private
from common.service import create_service

log = logging.getLogger(__name__)
UPLOAD_OVERHEAD = 16 * 1024
"""Multipart framing around one uploaded file."""
ROUTERS = (
    bench.router,
    catalog.router,
    dags.router,
    datasources.router,
    install.router,
    query.router,
    results.router,
    system.router,
    visualizations.router,
)


def ensure_token(settings: BackendSettings) -> BackendSettings:
    """Every route but health, metrics and static files needs a token: make one when none is given."""
    if settings.token:
        return settings
    path = settings.state_dir / "token"
    if path.is_file():
        token = path.read_text().strip()
    else:
        private_dir(settings.state_dir)
        token = secrets.token_urlsafe(24)
        write_private(path, token + "\n")
    return settings.model_copy(update={"token": token})


def seed(store: Store, template: Template) -> None:
    """At first start: the template's DAGs and its default datasource config."""
    if store.get_state("seeded"):
        return
    for name, spec in template.base.dags.items():
        with suppress(Conflict):
            store.create_dag(name, spec.model_dump(mode="json"))
    path = template.path(template.base.defaults.datasource)
    text = path.read_text(encoding="utf-8")
    config = parse_datasource(text, path.name)
    with suppress(Conflict):
        store.add_datasource(config.name, path.name, text, config.model_dump(mode="json"))
    store.set_state("seeded", True)


def create_app(settings: BackendSettings | None = None) -> FastAPI:
    settings = ensure_token(settings or BackendSettings())
    if settings.component_token:
        if settings.component_token == settings.token:
            raise ConfigError("DAYU_COMPONENT_TOKEN must differ from the API token DAYU_TOKEN")
        # The components' token reads; only the API token writes.
        settings = settings.model_copy(update={"read_token": settings.component_token})
    template = load_template(settings.template)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.state_dir / "backend.sqlite3")
        seed(store, template)
        plane = ControlPlane(settings, template, store, make_deployer(settings, template), app.state.client)
        app.state.plane = plane
        plane.start()
        try:
            yield
        finally:
            await plane.close()

    upload = settings.max_upload_bytes + UPLOAD_OVERHEAD
    limits = {
        datasources.router.prefix: datasources.MAX_FILES * upload,
        f"{visualizations.router.prefix}/{{source_id}}": upload,
    }
    app = create_service(
        "backend",
        settings,
        routers=ROUTERS,
        lifespan=lifespan,
        body_limits=limits,
        client_token=settings.component_token,
    )
    app.title = "Dayu control plane"
    static = Path(settings.static_dir)
    if (static / "index.html").is_file():
        app.mount("/", StaticFiles(directory=static, html=True), name="dashboard")
    else:
        app.add_api_route("/", _not_built(static), methods=["GET"], include_in_schema=False)
    return app


def _not_built(static: Path) -> Callable[[], Awaitable[HTMLResponse]]:
    async def page() -> HTMLResponse:
        body = (
            "<h1>Dayu</h1><p>The web dashboard was not built (no <code>"
            f"{static}/index.html</code>). Install Node.js 20.19 or newer and run <code>bash hack/setup.sh</code>."
            ' The API works: see <a href="/docs">/docs</a> or use <code>dayuctl</code>.</p>'
        )
        return HTMLResponse(body, status_code=503)

    return page
