"""``python -m services.distributor``: serve the distributor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import serve_service
from common.memory import give_back_freed_blocks
from services.distributor.app import create_app
from services.distributor.settings import DistributorSettings


def main() -> None:
    # segments it receives and records it reads: not kept in the heap once freed
    serve_service("distributor", DistributorSettings.from_env, create_app, prepare=give_back_freed_blocks)


if __name__ == "__main__":
    main()
