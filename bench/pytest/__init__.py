"""The pytest layer: the plugin's entry point (``plugin``), its fixtures, catalog scenarios as
pytest items (``collect``), the report and nightly hooks, and the state they share
(``run_state``). The top of the house: it imports every layer below it and nothing imports it.

Its modules import pytest absolutely (``import pytest``), which is always the real pytest: this
package is ``bench.pytest``, never a top-level ``pytest``.

Importing it (pytest does, for the plugin) first narrows pytest's assertion rewriting to what
tests assert (``rewrite_scope``): the plugin's own imports then compile as plain modules.
"""

from bench.pytest.rewrite_scope import leave_unrewritten

leave_unrewritten()
