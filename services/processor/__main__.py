"""``python -m services.processor``: serve the processor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

import uvicorn

from services.processor.app import create_app
from services.processor.settings import ProcessorSettings


def main() -> None:
    settings = ProcessorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
