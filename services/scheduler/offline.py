"""An agent's figures computed in this process, outside a running scheduler.

``python -m services.scheduler.offline awstream-grid --request FILE --out FILE``: the golden knobs and the
grid of candidate configurations of an ``awstream`` agent configured with the request's parameters
(:class:`common.contracts.offline.AwstreamGridRequest`), which awstream's offline profile labels on a clip.
The control plane runs it as a process: it imports no runtime component. A refused request exits 2 with
the reason on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common.contracts.offline import AwstreamGrid, AwstreamGridRequest
from common.offline_tool import OfflineCommand, run_offline_tool
from common.plan import Plan
from common.registry import REGISTRY
from services.scheduler.agent import FAMILY, AgentContext
from services.scheduler.agents.awstream import AwstreamAgent


def awstream_grid(request: AwstreamGridRequest) -> AwstreamGrid:
    config = REGISTRY.make_config(FAMILY, "awstream", {**request.params, "profile": None})
    agent = AwstreamAgent(
        config, context=AgentContext(source_id="clip", cloud="cloud", startup=Plan(meta=request.startup))
    )
    return AwstreamGrid(golden=agent.golden, candidates=[agent.candidate(key) for key in agent.grid()])


COMMANDS: dict[str, OfflineCommand] = {"awstream-grid": (AwstreamGridRequest, awstream_grid)}


def main(argv: Sequence[str] | None = None) -> int:
    return run_offline_tool("python -m services.scheduler.offline", __doc__.split("\n")[0], COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
