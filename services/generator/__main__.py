"""``python -m services.generator``: serve the generator on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

from common.entrypoint import serve_service
from common.memory import reuse_freed_frames
from services.generator.app import create_app
from services.generator.config import GeneratorSettings


def main() -> None:
    serve_service("generator", GeneratorSettings.from_env, create_app, prepare=reuse_freed_frames)


if __name__ == "__main__":
    main()
