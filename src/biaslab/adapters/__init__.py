"""The only place that reaches inside a dependency (Lightning's fit loop, W&B's logger): one
small module per private API, each pinned by a test in ``tests/test_adapters.py`` that fails
when the dependency changes it."""
