"""``python -m services.generator``: serve the generator on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

import uvicorn

from services.generator.app import create_app
from services.generator.config import GeneratorSettings


def main() -> None:
    settings = GeneratorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
