"""Application hooks: one file per application (alias, config model, code)."""
