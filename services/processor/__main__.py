"""``python -m services.processor``: serve the processor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.service import serve
from services.processor.app import create_app
from services.processor.settings import ProcessorSettings


def main() -> None:
    settings = ProcessorSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
