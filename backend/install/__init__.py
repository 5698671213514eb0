"""Install, uninstall, open/close and redeployment of one Dayu install.

Where things are:

- :mod:`.state`     the install state machine (phases, allowed transitions; the only writer of the state);
- :mod:`.resolve`   an install request -> policy, datasource config, DAG and nodes per source (before anything runs);
- :mod:`.validate`  every component config of an install checked against its models and hook configs;
- :mod:`.stages`    running the two install stages;
- :mod:`.runtime`   talking to what runs (the scheduler's answers, generators, the datasource);
- :mod:`.redeploy`  the periodic redeployment;
- :mod:`.health`    the install state following the components' health (degraded / installed);
- :mod:`.installer` the facade the routers use, serialising all of it under one lock.
"""

from backend.install.installer import Installer

__all__ = ["Installer"]
