"""Export the Task's JSON Schema: ``python -m common.schema [--check] [PATH]``.

Other tools read exported logs with it; a test keeps ``docs/task.schema.json`` current.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.task import Task

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "task.schema.json"


def task_schema_text() -> str:
    schema = Task.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://dayu.dev/schemas/task.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    args = parser.parse_args(argv)
    text = task_schema_text()
    if args.check:
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is out of date: run python -m common.schema", file=sys.stderr)
            return 1
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
