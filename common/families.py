"""The names of the hook families the control plane looks plugins up in.

A family's name is also the key a component template chooses its hook under (``agent: {alias, params}``),
so it is part of the components' config contract; the components declare their families under these names.
"""

from __future__ import annotations

AGENT = "agent"
"""The scheduler's policies (``services/scheduler/agents/``)."""
APPLICATION = "application"
"""The processor's applications (``services/processor/applications/``)."""
