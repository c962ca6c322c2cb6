"""Reporting: what a run leaves in its Allure results for the people who read them.

* ``labels`` — Allure labels and parameters of scenario items and bench tests (epic, feature,
  story, severity, ECU, fault, phase, trigger, seed, bench), so the report filters and groups;
* ``categories`` — sorts failures into product defects and bench faults (``categories.json``);
* ``versions`` and ``environment`` — the run's ``environment.properties``: bench, buses, ECU
  software versions seen, framework version, git revision;
* ``results``, ``matrix``, ``matrix_html``, ``heatmap`` and ``matrix_files`` — the campaign's outcome matrix
  (phase × fault kind, per ECU) as CSV, HTML and PNG, under reports/ and attached to the report;
* ``progress`` — progress of long operations on a person's terminal, silence in CI logs.

``bench.pytest.report_hooks`` wires them into pytest; only the xdist controller, or a
run without xdist, writes the run-level files, and only when ``--alluredir`` is given.
"""
