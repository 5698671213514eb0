"""``python -m services.processor``: serve the processor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import one_line_errors
from common.listen import serve
from common.memory import reuse_freed_frames
from common.service import load_topology
from services.processor.app import create_app
from services.processor.settings import ProcessorSettings


def main() -> None:
    reuse_freed_frames()
    with one_line_errors("processor"):
        settings = ProcessorSettings.from_env()
        load_topology(settings)  # a bad topology is named now, not as a traceback at startup
        app = create_app(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
