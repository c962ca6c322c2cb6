"""The single-file HTML report packed: Allure's app and embedded data gzip-compressed, unpacked by
the browser.

Allure 3's single-file report (``singleFile: true``, ``reports/allurerc.mjs``) embeds its app
(2.7 MB of JavaScript) as a ``data:text/javascript;base64`` URL, and every data file of the report
(each test result, the tree, the search index, the widgets, the attachments, the history) as a
call ``d("data/test-results/ID.json", "<base64>")`` of an inline script, one per file, base64 of
the raw bytes. The app waits, polling every 30 ms, until ``window.allureReportDataReady`` is true,
then reads each file from ``window.allureReportData`` by name, as base64, whenever it needs one.
JSON in base64 takes 10-13 KB a test result: 43 MB for the whole catalog, 250 MB with a month of
history (benchmarks/README.md, "report_size.py").

Packing replaces the app's script with its code gzip-compressed, and the data scripts with the
same files in one gzip stream (both base64, in non-executed ``<script type="application/gzip">``
blocks) and a small loader (``packed_html_loader.js``): it sets ``allureReportData`` to an empty
object and ``allureReportDataReady`` to false where Allure did, unpacks the stream with the
browser's ``DecompressionStream``, fills ``allureReportData`` with the same names and base64
values, sets ``allureReportDataReady``, then runs the app. The app's code is not touched, and
reads exactly what Allure wrote.

The data's gzip stream holds one line of JSON, ``[[name, length in bytes], ...]`` in Allure's
order, then the files' bytes one after the other.

This reads Allure's output format, an internal of Allure 3.18.0 (pinned in the Makefile);
``tests/test_library_internals.py`` checks it on the installed Allure.

    python -m bench.report.packed_html reports/allure-report/index.html    # in place; `make report`
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import UsageError

ALLURE_VERSION = "3.18.0"
"""The Allure whose single-file format this reads (the Makefile's ALLURE_VERSION)."""

LOADER_FILE = Path(__file__).with_name("packed_html_loader.js")
PACKED_ID = "bench-packed-report-data"
"""The id of the block holding the packed data: the loader reads it, and it marks a packed report."""
PACKED_APP_ID = "bench-packed-report-app"
"""The id of the block holding Allure's app, gzip-packed, which the loader runs."""

ALLURE_DATA_SCRIPT = re.compile(
    r"<script async>\s*window\.allureReportDataReady = false;\s*"
    r"window\.allureReportData = window\.allureReportData \|\| \{\};\s*"
    r"function d\(name, value\)\{\s*return new Promise\(function \(resolve\) \{\s*"
    r"window\.allureReportData\[name\] = value;\s*return resolve\(true\);\s*\}\);\s*\}\s*</script>\s*"
    r"<script defer>\s*Promise\.allSettled\(\[(?P<files>[^\]]*)\]\)\s*\.then\(function\(\)\{\s*"
    r"window\.allureReportDataReady = true;\s*\}\)\s*</script>")
"""The two scripts by which Allure 3.18.0 embeds the report data (core-api's createReportDataScript)."""
APP_SCRIPT = re.compile(r'<script\s+src="data:text/javascript;base64,(?P<app>[A-Za-z0-9+/]*={0,2})"></script>')
"""Allure's app (the plugin's main.js), embedded as a data URL (core-api's createScriptTag)."""
ANALYTICS = re.compile(r'<script async src="https://www\.googletagmanager\.com/gtag/js\?id=[^"]*"></script>\s*'
                       r"<script>\s*window\.dataLayer = window\.dataLayer \|\| \[\];.*?</script>\s*", re.DOTALL)
"""Google Analytics, which Allure 3.18.0's awesome report always loads when opened (``analyticsEnable:
true`` in its template): packing drops it, so that a report opened in a lab calls no one outside."""
EMBEDDED_FILE = re.compile(r'd\((?P<name>"(?:[^"\\]|\\.)*"),"(?P<value>[A-Za-z0-9+/]*={0,2})"\)')
"""One embedded file: its name as a JSON string, its bytes in base64."""


def embedded_files(html: str, source: str) -> dict[str, bytes]:
    """The data files Allure embedded in the single-file report ``html`` (read from ``source``), by name."""
    return _embedded(html, source)[1]


def _embedded(html: str, source: str) -> tuple[re.Match[str], dict[str, bytes]]:
    """Allure's data scripts in ``html`` and the files they embed."""
    found = ALLURE_DATA_SCRIPT.search(html)
    if found is None:
        raise UsageError(
            f"{source}: no report data embedded the way Allure {ALLURE_VERSION}'s single-file report does "
            "(is it an Allure 3 report with singleFile: true, as reports/allurerc.mjs makes, of the version "
            "the Makefile pins?)")
    start, stop = found.span("files")  # read in place: the list is most of a file of up to hundreds of MB
    files: dict[str, bytes] = {}
    end = start
    for match in EMBEDDED_FILE.finditer(html, start, stop):
        if html[end:match.start()] not in ("", ","):
            break
        try:
            files[json.loads(match["name"])] = base64.b64decode(match["value"], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise UsageError(f"{source}: embedded file {match['name']} does not decode: {exc}") from exc
        end = match.end()
    if end != stop:
        raise UsageError(f"{source}: Allure's embedded data is not a list of d(name, base64) calls from "
                         f"character {end} on (not the format of Allure {ALLURE_VERSION})")
    return found, files


def embedded_app(html: str, source: str) -> tuple[re.Match[str], bytes]:
    """The script element of Allure's app in ``html`` (read from ``source``), and the app's code."""
    found = list(APP_SCRIPT.finditer(html))
    if len(found) != 1:
        raise UsageError(f"{source}: {len(found)} scripts embedded as data:text/javascript URLs where Allure "
                         f"{ALLURE_VERSION}'s single-file report has one, its app")
    return found[0], base64.b64decode(found[0]["app"], validate=True)


def packed_stream(files: dict[str, bytes]) -> bytes:
    """The files as one gzip stream: the JSON line of names and lengths, then their bytes."""
    index = json.dumps([[name, len(content)] for name, content in files.items()], separators=(",", ":"))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=9, mtime=0) as stream:
        stream.write(index.encode() + b"\n")
        for content in files.values():
            stream.write(content)
    return packed.getvalue()


def packed_script(files: dict[str, bytes]) -> str:
    """What stands where Allure's data scripts stood: the empty data Allure's app looks for, the
    packed files and the loader that unpacks them."""
    data = base64.b64encode(packed_stream(files)).decode("ascii")
    loader = LOADER_FILE.read_text(encoding="utf-8")
    return ("<script>\n  window.allureReportDataReady = false;\n  window.allureReportData = {};\n</script>\n"
            f'<script type="application/gzip" id="{PACKED_ID}" data-files="{len(files)}">{data}</script>\n'
            f"<script>\n{loader}</script>")


def is_packed(html: str) -> bool:
    return f'id="{PACKED_ID}"' in html


def packed_app(app: bytes) -> str:
    """What stands where Allure's app script stood: the app's code, gzip-packed, which the loader runs."""
    packed = base64.b64encode(gzip.compress(app, compresslevel=9, mtime=0)).decode("ascii")
    return f'<script type="application/gzip" id="{PACKED_APP_ID}">{packed}</script>'


def pack_html(html: str, source: str) -> str:
    """The report ``html`` (read from ``source``) with its app and its embedded data packed, and
    without Allure's analytics (``ANALYTICS``)."""
    found, files = _embedded(html, source)
    app_script, app = embedded_app(html, source)
    if app_script.end() > found.start():
        raise UsageError(f"{source}: Allure's app comes after its data, not as in Allure {ALLURE_VERSION}'s report")
    between = ANALYTICS.sub("", html[app_script.end():found.start()])
    return html[:app_script.start()] + packed_app(app) + between + packed_script(files) + html[found.end():]


def pack_file(index: Path) -> tuple[int, int]:
    """Pack the report ``index`` in place (a packed one is left as it is): its sizes before and after."""
    try:
        html = index.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{index}: no such report (make report writes reports/allure-report/index.html)") from exc
    before = len(html.encode())
    if is_packed(html):
        return before, before
    packed = pack_html(html, str(index)).encode()
    index.write_bytes(packed)
    return before, len(packed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report.packed_html",
                                     description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("index", type=Path, help="the single-file report, e.g. reports/allure-report/index.html")
    args = parser.parse_args(argv)
    try:
        before, after = pack_file(args.index)
    except UsageError as exc:
        print(f"packed_html: {exc}", file=sys.stderr)
        return 2
    if before == after:
        print(f"{args.index}: already packed ({after / 1e6:.1f} MB)")
    else:
        print(f"{args.index}: packed, {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
