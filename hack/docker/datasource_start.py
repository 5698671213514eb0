"""Entry point of the datasource image: the default synthetic dataset is generated under ``DAYU_ROOT`` (the
data volume) when it is not there yet, then the command (``python -m datasource``) replaces this process.
``DAYU_DEFAULT_DATASET=0`` skips the generation (datasets of your own only)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    root = Path(os.environ.get("DAYU_ROOT", "/data/datasets"))
    if os.environ.get("DAYU_DEFAULT_DATASET", "1") != "0":
        from datasource.synthetic import ensure_default_dataset

        root.mkdir(parents=True, exist_ok=True)
        ensure_default_dataset(root)
    command = sys.argv[1:] or ["python", "-m", "datasource"]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
