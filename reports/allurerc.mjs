// Allure 3 configuration of the HTML report, used by `make report` (which `make run` ends with):
//   allure generate --config reports/allurerc.mjs reports/allure-results --output reports/allure-report
// * categories: the plugin's list (bench/report/categories.json), which pytest also writes into
//   allure-results for Allure 2 and the classic report; Allure 3's default report reads them here;
// * one self-contained index.html, which a browser opens from disk (no web server needed);
// * history: each generation appends the run to a JSONL file and reads the runs before it, so the
//   report shows trend charts and each test's history. The file is reports/history/allure-history.jsonl
//   (relative to where allure runs: the checkout's root for the Makefile), or $ALLURE_HISTORY;
//   CI keeps reports/history/ between nights (fixtures/ci/nightly.gitlab-ci.yml). The bench's own
//   history (pytest --history reports/history) sits beside it.
import { readFileSync } from "node:fs";

const categories = JSON.parse(
  readFileSync(new URL("../bench/report/categories.json", import.meta.url), "utf-8"),
);

export default {
  name: "OTA validation",
  categories,
  historyPath: process.env.ALLURE_HISTORY ?? "reports/history/allure-history.jsonl",
  historyLimit: 30,
  plugins: {
    awesome: { options: { singleFile: true, reportName: "OTA validation" } },
  },
};
