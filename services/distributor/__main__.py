"""``python -m services.distributor``: serve the distributor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import one_line_errors
from common.listen import serve
from common.memory import give_back_freed_blocks
from common.service import load_topology
from services.distributor.app import create_app
from services.distributor.settings import DistributorSettings


def main() -> None:
    give_back_freed_blocks()  # segments it receives and records it reads: not kept in the heap once freed
    with one_line_errors("distributor"):
        settings = DistributorSettings.from_env()
        load_topology(settings)  # a bad topology is named now, not as a traceback at startup
        app = create_app(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
