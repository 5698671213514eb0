"""Learning support of the ``casva`` and ``hei`` agents: a small discrete soft actor-critic, the state and
reward they share, a trace-driven simulator to train them on, and the training command."""

import importlib.util
import sys


def require_torch() -> None:
    """Fail like a missing import when torch is absent, without importing it (that takes seconds).

    The agent registry imports every agent module on first use; the learning agents check here so a
    scheduler running another policy never pays for loading torch, and still lists them as skipped when
    it is missing.
    """
    try:
        found = sys.modules.get("torch", False) is not None and importlib.util.find_spec("torch") is not None
    except ValueError:
        found = False
    if not found:
        raise ModuleNotFoundError("No module named 'torch': install the rl extra (pip install 'dayu[rl]')")
