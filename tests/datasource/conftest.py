"""The datasource served over loopback from a tiny synthetic dataset, shared by the modules that read it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.datasource.server import make_dataset, running_datasource


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running datasource's URL; one per test module, so a module's streams never meet another's."""
    root = tmp_path_factory.mktemp("datasets")
    make_dataset(root)  # 2 clips x 6 frames, 320x192, 30 fps
    with running_datasource(root) as url:
        yield url
