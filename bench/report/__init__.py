"""Reporting: what a run leaves in its Allure results for the people who read them.

* ``labels`` — Allure labels and parameters of scenario items and bench tests (epic, feature,
  story, severity, ECU, fault, phase, trigger, seed, bench), so the report filters and groups;
* ``categories`` — sorts failures into product defects and bench faults (``categories.json``);
* ``suspicion`` — what a failed test's evidence says against the bench (a tester that went
  silent, a fault that never fired): a suspected bench fault, with the reason;
* ``evidence``, ``steps`` and ``captured`` — what each test records (steps in time order, text,
  CAN traces), sized for thousands of results;
* ``versions`` and ``environment`` — the run's ``environment.properties``: bench, buses, ECU
  software versions seen, framework version, git revision;
* ``results``, ``matrix``, ``matrix_html``, ``heatmap`` and ``matrix_files`` — the campaign's outcome matrix
  (phase × fault kind, per ECU) as CSV, HTML and PNG, under reports/ and attached to the report;
* ``progress`` — progress of long operations on a person's terminal, silence in CI logs.
* ``packed_html`` — the single-file HTML report with its embedded data gzip-packed (``make report``),
  unpacked in the browser by ``packed_html_loader.js``: the whole catalog's report under 20 MB.

``bench.pytest.report_hooks`` wires them into pytest; only the xdist controller, or a
run without xdist, writes the run-level files, and only when ``--alluredir`` is given.
"""
