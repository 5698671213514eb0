"""One small synthetic clip (8 frames of 720p with ground truth), generated once per test session."""

from __future__ import annotations

import pytest

import services.processor.application  # noqa: F401  (declares the application family)
from tests.services.processor.applications.synthetic import Clip, make_clip


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("apps"))
