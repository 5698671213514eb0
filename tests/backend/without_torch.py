"""``python -m tests.backend.without_torch STATE_DIR``: a real backend in an interpreter where torch cannot
be imported (as after ``dayu.sh start``, which does not install the ``rl`` extra), asked for its policy
catalog over HTTP and through ``dayuctl policies --json``, then asked to install ``casva``; prints one JSON
line ``{"api": [...], "cli": [...], "install": {...}}``.

torch is installed in the test environment, so its absence is made here: a finder placed first on
``sys.meta_path`` refuses ``torch`` as a missing package does, before anything imports it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import shutil
import sys
from pathlib import Path


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def main(state_dir: Path) -> None:
    sys.meta_path.insert(0, NoTorch())
    from backend.cli import main as dayuctl
    from tests.backend.conftest import REPO, TOKEN, RunningBackend

    template = state_dir / "template"
    shutil.copytree(REPO / "template", template)
    with RunningBackend(state_dir / "state", template) as backend:
        client = backend.client()
        api = client.get("/api/policies").json()
        refused = client.post(
            "/api/install", json={"policy": "casva", "datasource": "synthetic", "dag": "face-detection"}
        )
        install = {"status": refused.status_code, "error": refused.json().get("error"),
                   "phase": client.get("/api/install").json()["phase"],
                   "instances": client.get("/api/instances").json()}  # fmt: skip
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = dayuctl(["--url", backend.url, "--token", TOKEN, "--json", "policies"])
        assert code == 0
    print(json.dumps({"api": api, "cli": json.loads(out.getvalue()), "install": install}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
