"""``python -m services.generator``: serve the generator on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

from common.service import serve
from services.generator.app import create_app
from services.generator.config import GeneratorSettings
from services.generator.memory import return_freed_frames


def main() -> None:
    return_freed_frames()
    settings = GeneratorSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
