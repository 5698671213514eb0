"""``python -m services.distributor``: serve the distributor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.service import serve
from services.distributor.app import create_app
from services.distributor.settings import DistributorSettings


def main() -> None:
    settings = DistributorSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
