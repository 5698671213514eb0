"""The backend API's contracts: request and response models of every route, one module per concern.

These are what the OpenAPI document of the backend publishes (the dashboard's client is generated from
it), so model names are part of the contract: rename one only with the dashboard. Models that a runtime
component also speaks (tasks, records, plans, resource reports) live in ``common/``; this package holds
what only the backend and its callers (the dashboard, ``dayuctl``) exchange.
"""
