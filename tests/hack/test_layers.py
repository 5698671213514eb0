"""The layering check (``hack/layers.py``, run by ``make lint``): the repository keeps the rules, and each rule
is caught, with file and line, in a small tree that breaks it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def run(root: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(ROOT / "hack" / "layers.py"), *([str(root)] if root else [])]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_the_repository_keeps_the_layering_rules() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_rule_is_caught_with_file_and_line(tmp_path: Path) -> None:
    files = {
        "common/bad.py": "import os\nfrom services.generator import app\n",
        "common/lazy.py": "def f():\n    import backend.app\n",
        "services/generator/bad.py": "from services.processor.config import ProcessorConfig\n",
        "services/generator/ok.py": "from services.generator.config import X\nfrom common.task import Task\n",
        "services/processor/plugins.py": "REGISTRY.declare_modules('application', ['services.monitor.probes.cpu'])\n",
        "services/monitor/bad.py": "import datasource.app\n",
        "backend/local_runtime/bad.py": "x = 1\nfrom services.scheduler.app import create_app\n",
        "backend/local_runtime/reach.py": "from backend.deploy.local import LocalDeployer\n",
        "backend/local_runtime/ok.py": "from backend.local_runtime.model import RuntimeSpec\nimport common.task\n",
        "datasource/bad.py": "from backend.store import Store\n",
        "datasource/ok.py": "from datasource.config import DatasourceConfig\n",
        "backend/ok.py": "from backend.local_runtime.runtime import LocalRuntime\nfrom datasource.config import X\n",
        "backend/bad.py": "import os\nfrom services.processor.application import Application\n",
        "backend/lazy.py": "def f():\n    from services.scheduler.agent import FAMILY\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = run(tmp_path)
    assert result.returncode == 1
    lines = sorted(result.stdout.splitlines())
    assert lines == [
        "backend/bad.py:2: backend imports no runtime component, but imports services.processor.application",
        "backend/lazy.py:2: backend imports no runtime component, but imports services.scheduler.agent",
        "backend/local_runtime/bad.py:2: backend.local_runtime imports only itself and common, "
        "but imports services.scheduler.app",
        "backend/local_runtime/reach.py:1: backend.local_runtime imports only itself and common, "
        "but imports backend.deploy.local",
        "common/bad.py:2: common imports no component, but imports services.generator",
        "common/lazy.py:2: common imports no component, but imports backend.app",
        "datasource/bad.py:1: datasource imports only common, but imports backend.store",
        "services/generator/bad.py:1: services.generator imports only itself and common, "
        "but imports services.processor.config",
        "services/monitor/bad.py:1: services import neither backend nor datasource, "
        "but services.monitor imports datasource.app",
        "services/processor/plugins.py:1: services.processor imports only itself and common, "
        "but imports services.monitor.probes.cpu",
    ]
