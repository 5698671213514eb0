"""``python -m services.distributor``: serve the distributor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

import uvicorn

from services.distributor.app import create_app
from services.distributor.settings import DistributorSettings


def main() -> None:
    settings = DistributorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
