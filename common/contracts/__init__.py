"""The HTTP contracts between Dayu's components, each defined once and used by both sides.

A server declares a model as its route's body or reply; a caller parses the reply into the same model
through :meth:`common.transport.ServiceClient.get_model` / ``post_model``. Changing a field therefore
breaks the tests of both sides at once, and the exported OpenAPI documents (``docs/openapi/``).

One module per component that serves the contract (``controller``, ``distributor``, ``generator``,
``processor``, ``scheduler``, ``monitor``, ``datasource``), ``ops`` for what every component serves
(``/health``), ``openapi`` for declaring bodies a route reads itself (the data plane's hot paths).
The task itself lives in :mod:`common.task`, plans and resource reports in :mod:`common.plan`, drop
records in :mod:`common.records`.
"""
