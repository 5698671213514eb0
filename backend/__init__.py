"""Dayu backend."""
