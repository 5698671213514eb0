"""``python -m services.processor``: serve the processor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import serve_service
from common.memory import reuse_freed_frames
from services.processor.app import create_app
from services.processor.settings import ProcessorSettings


def main() -> None:
    serve_service("processor", ProcessorSettings.from_env, create_app, prepare=reuse_freed_frames)


if __name__ == "__main__":
    main()
