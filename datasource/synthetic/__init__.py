"""Synthetic datasets with ground truth: ``python -m datasource.synthetic --seed 7 --out DIR``."""

from datasource.synthetic.generate import (
    DEFAULT_DATASET,
    DEFAULT_SPEC,
    SyntheticSpec,
    ensure_default_dataset,
    generate_dataset,
)

__all__ = ["DEFAULT_DATASET", "DEFAULT_SPEC", "SyntheticSpec", "ensure_default_dataset", "generate_dataset"]
