"""The published Task JSON Schema is current and describes real tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from common.schema import DEFAULT_PATH, main, task_schema_text
from tests.common.dagkit import dag_of, new_task

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_docs_schema_is_current():
    result = subprocess.run(
        [sys.executable, "-m", "common.schema", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_check_notices_a_stale_file_and_writing_fixes_it(tmp_path, capsys):
    path = tmp_path / "task.schema.json"
    path.write_text("{}\n")
    assert main(["--check", str(path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main([str(path)]) == 0
    assert main(["--check", str(path)]) == 0
    assert main(["--check", str(tmp_path / "absent.json")]) == 1


def test_schema_validates_a_real_task_and_refuses_a_broken_one():
    schema = json.loads(task_schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    task = new_task(dag_of([("a", "b"), ("a", "c")]))
    task.dag["a"].timings.execute = 0.5
    jsonschema.validate(json.loads(task.to_json()), schema)
    broken = json.loads(task.to_json())
    broken["task_id"] = -3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    assert DEFAULT_PATH == ROOT / "docs" / "task.schema.json"
