"""Dayu runtime components: each a FastAPI app started with ``python -m services.<name>``."""
