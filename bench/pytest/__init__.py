"""The pytest layer: the plugin's entry point (``plugin``), its fixtures, catalog scenarios as
pytest items (``collect``), the report and nightly hooks, and the state they share
(``run_state``). The top of the house: it imports every layer below it and nothing imports it.

Its modules import pytest absolutely (``import pytest``), which is always the real pytest: this
package is ``bench.pytest``, never a top-level ``pytest``.
"""
