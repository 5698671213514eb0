"""Processor: a bounded queue and a worker running one application (model) on segments."""
