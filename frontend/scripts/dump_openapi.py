"""Print the backend's OpenAPI document, made by its app factory (no server, no state written)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from backend.app import create_app
    from backend.settings import BackendSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = BackendSettings(token="openapi", template=ROOT / "template", state_dir=Path(tmp))
        document = create_app(settings).openapi()
    sys.stdout.write(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
