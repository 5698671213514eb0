"""Shared library of every Dayu component: task and DAG model, hooks, transport, topology, service skeleton."""
