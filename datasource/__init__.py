"""Dayu datasource."""
