"""An agent's figures computed in this process, outside a running scheduler.

``python -m services.scheduler.offline awstream-grid --request FILE --out FILE``: the golden knobs and the
grid of candidate configurations of an ``awstream`` agent configured with the request's parameters
(:class:`common.contracts.offline.AwstreamGridRequest`), which awstream's offline profile labels on a clip.
The control plane runs it as a process: it imports no runtime component. A refused request exits 2 with
the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from common.contracts.offline import AwstreamGrid, AwstreamGridRequest
from common.errors import DayuError
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scheduler.offline", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["awstream-grid"])
    parser.add_argument("--request", required=True, type=Path, help="the request (JSON)")
    parser.add_argument("--out", required=True, type=Path, help="where the reply (JSON) goes")
    args = parser.parse_args(argv)
    try:
        reply = awstream_grid(AwstreamGridRequest.model_validate_json(args.request.read_bytes()))
    except ValidationError as exc:
        print(f"not an AwstreamGridRequest: {str(exc)[:500]}", file=sys.stderr)
        return 2
    except DayuError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    args.out.write_text(reply.model_dump_json(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
