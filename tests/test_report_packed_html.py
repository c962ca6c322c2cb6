"""Packing the single-file report (bench/report/packed_html.py): every file Allure embedded, and its
app, come back byte for byte, the rest of the page is untouched, and a file that is not Allure's single-file
report is refused with its name. The browser's side (the loader) is in test_report_browser.py; the
check that Allure still embeds its data this way is in test_library_internals.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.report.packed_html import embedded_files, main, pack_file, pack_html
from report_suite import packed_app, packed_files

HEAD = ('<!DOCTYPE html>\n<html><head><script>window.allureReportOptions = {"reportName":"OTA"}</script></head>\n'
        "<body>\n")
APP = b'/*! app */ (function () { document.getElementById("app").textContent = "report"; })();\n' * 50
BETWEEN = '\n    <script>\n      window.allure = window.allure || {};\n    </script>\n'
TAIL = "\n</body>\n</html>\n"


def allure_page(files: dict[str, bytes]) -> str:
    """A page embedding ``files`` the way Allure 3.18.0's single-file report does."""
    calls = ",".join(f"d({json.dumps(name)},{json.dumps(base64.b64encode(content).decode())})"
                     for name, content in files.items())
    app = f'<script   src="data:text/javascript;base64,{base64.b64encode(APP).decode()}"></script>'
    return (HEAD + app + BETWEEN + "    <script async>\n      window.allureReportDataReady = false;\n"
            "      window.allureReportData = window.allureReportData || {};\n\n      function d(name, value){\n"
            "        return new Promise(function (resolve) {\n          window.allureReportData[name] = value;\n\n"
            "          return resolve(true);\n        });\n      }\n    </script>\n    <script defer>\n"
            f"      Promise.allSettled([{calls}])\n        .then(function(){{\n"
            "          window.allureReportDataReady = true;\n        })\n    </script>\n" + TAIL)


def result_json(number: int) -> bytes:
    """A test result of the kind the report holds thousands of: alike but for a few fields."""
    return json.dumps({"id": f"{number:032x}", "name": f"network[bms-full-frame_loss@block:{number}-s1]",
                       "status": "passed", "labels": [{"name": name, "value": f"{name} value"} for name in
                                                      ("epic", "feature", "story", "ecu", "fault", "phase", "seed")],
                       "steps": [{"name": f"flash 1: bms to 2.0.0 (full): done in {number % 7}.{number % 10} s"}],
                       "history": []}).encode()


FILES = {
    "widgets/tree.json": b'{"root":{"leaves":["a","b"]}}',
    "data/test-results/0a1b.json": result_json(1),
    'data/attachments/name with "quotes" and \\.txt': "ünïcode text\n".encode(),
    "data/attachments/empty.txt": b"",
    "data/attachments/matrix.png": bytes(range(256)) * 4,
}


def test_packing_keeps_every_file_byte_for_byte_and_the_rest_of_the_page() -> None:
    page = allure_page(FILES)
    assert embedded_files(page, "index.html") == FILES
    packed = pack_html(page, "index.html")
    assert packed_files(packed) == FILES
    assert list(packed_files(packed)) == list(FILES)  # in Allure's order
    assert packed_app(packed) == APP
    assert packed.startswith(HEAD) and BETWEEN in packed and packed.endswith(TAIL)
    assert "Promise.allSettled" not in packed and "window.allureReportData = {};" in packed
    assert "data:text/javascript" not in packed


ANALYTICS_BLOCK = ('    <script async src="https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"></script>\n'
                   "    <script>\n        window.dataLayer = window.dataLayer || [];\n"
                   "        function gtag(){dataLayer.push(arguments);}\n        gtag('js', new Date());\n"
                   "        gtag('config', 'G-LNDJ3J7WT0', {\n          \"report\": \"awesome\"\n        });\n"
                   "    </script>\n")
"""Google Analytics as Allure 3.18.0's awesome template writes it, between its app and its data."""


def test_packing_drops_allures_analytics_and_nothing_else_of_the_page() -> None:
    page = allure_page(FILES).replace(BETWEEN, BETWEEN + ANALYTICS_BLOCK)
    packed = pack_html(page, "index.html")
    assert "googletagmanager" not in packed and "gtag" not in packed
    assert packed_files(packed) == FILES and BETWEEN in packed


def test_a_thousand_alike_results_pack_to_a_fraction_of_allures_page() -> None:
    files = {f"data/test-results/{number:032x}.json": result_json(number) for number in range(1000)}
    page = allure_page(files)
    packed = pack_html(page, "index.html")
    assert len(packed) < len(page) / 5, (len(page), len(packed))


def test_pack_file_packs_in_place_and_leaves_a_packed_report_as_it_is(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "index.html"
    index.write_text(allure_page(FILES), encoding="utf-8")
    assert main([str(index)]) == 0
    assert ": packed, " in capsys.readouterr().out
    packed = index.read_text(encoding="utf-8")
    assert packed_files(packed) == FILES
    assert pack_file(index) == (len(packed.encode()), len(packed.encode()))
    assert index.read_text(encoding="utf-8") == packed
    assert main([str(index)]) == 0
    assert "already packed" in capsys.readouterr().out


def test_a_page_without_allures_data_is_refused_naming_the_file(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "index.html"
    index.write_text(HEAD + TAIL)  # a multi-file report's page: its data sits in files beside it
    assert main([str(index)]) == 2
    error = capsys.readouterr().err
    assert f"{index}: no report data embedded the way Allure 3.18.0's single-file report does" in error
    assert "singleFile: true" in error and "Traceback" not in error
    assert index.read_text() == HEAD + TAIL
    assert main([str(tmp_path / "missing.html")]) == 2
    assert "missing.html: no such report (make report writes" in capsys.readouterr().err


def test_a_page_without_allures_app_script_is_refused() -> None:
    page = allure_page(FILES).replace("data:text/javascript;base64,", "app.js?")
    with pytest.raises(UsageError, match=r"^index.html: 0 scripts embedded as data:text/javascript URLs where Allure "
                                         r"3.18.0's single-file report has one, its app$"):
        pack_html(page, "index.html")


def test_a_list_of_embedded_files_in_another_form_is_refused_not_packed_in_part() -> None:
    page = allure_page(FILES).replace('d("data/attachments/empty.txt","")', 'e("data/attachments/empty.txt","")')
    with pytest.raises(UsageError, match=r"^index.html: Allure's embedded data is not a list of d\(name, base64\) "
                                         r"calls from character [0-9]+ on \(not the format of Allure 3.18.0\)"):
        pack_html(page, "index.html")
