"""Dayu services."""
