"""The honesty check's statistics (the check itself runs in the apps section of ``make bench``)."""

from __future__ import annotations

import pytest

from tests.bench.apps import _spearman, honesty_markdown

pytestmark = pytest.mark.unit


def test_spearman_ranks_with_ties_and_refuses_a_constant_side() -> None:
    assert _spearman([0.1, 0.5, 0.9], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert _spearman([0.1, 0.5, 0.9], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert _spearman([1.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.9486832980505138)
    assert _spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None  # a golden model that sees nothing ranks nothing


def test_the_table_shows_every_row_and_configuration() -> None:
    rows = [
        {
            "application": "face-detection",
            "golden_model": "blazeface",
            "golden_f1_vs_truth": 0.9,
            "spearman": None,
            "mae": 0.25,
            "grid": {"360p@5": [1.0, 0.5], "1080p@30": [1.0, 0.9]},
        }
    ]
    table = honesty_markdown(rows)
    assert "| face-detection | blazeface | 0.900 | n/a | 0.250 |" in table
    assert "| 360p@5 | 1.00 / 0.50 |" in table and "| 1080p@30 | 1.00 / 0.90 |" in table
