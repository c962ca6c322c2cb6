"""Allure categories: every failure lands in the category a validation lead acts on.

Messages are made the way allure-pytest makes them (``ExceptionInfo.exconly()`` of the real
exception classes). Allure 2 needs a category's regex to match the whole message, Allure 3 takes
the first category whose regex is found in it: both must agree, and a message fits one category
at most. The regexes are also run through Node's RegExp, the engine of Allure 3.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import can
import pytest
import serial
from udsoncan.exceptions import TimeoutException

from bench.console import ConsoleTimeout
from bench.errors import (BenchFault, ConfigError, FlashError, FlashRolledBack, HostOverloaded, SuspectedBenchFault,
                          UsageError)
from bench.report.categories import CATEGORIES_FILE
from bench.scenarios.oracles import (EcuBricked, NvmInconsistent, OutcomeViolation, ResumeFailed, RollbackFailed,
                                     WrongVersion)

BRICKED = "Product defect: ECU bricked"
WRONG_VERSION = "Product defect: wrong version"
ROLLBACK = "Product defect: rollback failed"
RESUME = "Product defect: resume failed"
NVM = "Product defect: NVM inconsistent"
FLASH_STEP = "Product defect: reprogramming step failed"
UDS = "Product defect: UDS error"
OTHER_CHECK = "Product defect: other failed check"
ADAPTER = "Bench fault: adapter error"
INSTRUMENT = "Bench fault: instrument not answering"
BENCH_TIMEOUT = "Bench fault: bench timeout"
RIG = "Bench fault: simulator or rig"
OVERLOADED = "Bench fault: host overloaded"
SUSPECTED = "Suspected bench fault"
USAGE = "Usage error"

SAMPLES: list[tuple[BaseException, str | None]] = [
    (EcuBricked("bms is bricked: no answer to TesterPresent within 5.0 s after power returned"), BRICKED),
    (WrongVersion("bms-full-power_cut@erase: after the power_cut the ECU runs '0.9.0'; allowed: old, new"),
     WRONG_VERSION),
    (RollbackFailed("bms should run bank A version '1.0.0'; it runs bank B trial version '2.0.0'"), ROLLBACK),
    (ResumeFailed("bcm-full-power_cut@block:3: bcm: the download started over and re-sent 4096 bytes, more than "
                  "1 block(s) of 1024 B; ECU state: bootloader"), RESUME),
    (NvmInconsistent("bcm NVM is inconsistent: bank A is marked valid but does not verify"), NVM),
    (FlashError("bms: RoutineControl check memory reported status 0x02"), FLASH_STEP),
    (FlashRolledBack("bms: rolled back: the ECU runs its previous version '1.0.0' after flashing '2.0.0'"),
     FLASH_STEP),
    (TimeoutException("Did not receive response in time. Global request timeout time has expired"), UDS),
    (AssertionError("assert '1.0.0' == '2.0.0'"), OTHER_CHECK),
    (ConsoleTimeout("bcm console: no 'boot: bank A' within 2.0 s"), OTHER_CHECK),
    (OutcomeViolation("bms ended in a state the regulation does not allow"), OTHER_CHECK),
    (BenchFault("bus 'body': cannot open python-can interface 'pcan' channel 'PCAN_USBBUS1': no such device"),
     ADAPTER),
    (can.CanOperationError("Failed to transmit: No buffer space available"), ADAPTER),
    (serial.SerialException("device reports readiness to read but returned no data"), ADAPTER),
    (BenchFault("serial console 'bcm_console' on /dev/ttyUSB0 was lost: [Errno 5] Input/output error"), ADAPTER),
    (BenchFault("gateway of bus body: BenchFault('gateway gateway-body: tester->ecu forwarding stopped: "
                "CanOperationError()')"), ADAPTER),
    (BenchFault("power supply 'kl30' on socket://127.0.0.1:5025 did not answer 'OUTP?' within 1.0 s"), INSTRUMENT),
    (BenchFault("relay 'kl30' (channel 0) on /dev/ttyACM0 reads off after 'relay on 0'"), INSTRUMENT),
    (BenchFault("power supply 'kl30': cannot open socket://127.0.0.1:1: Connection refused"), INSTRUMENT),
    (pytest.fail.Exception("Timeout (>120.0s) from pytest-timeout."), BENCH_TIMEOUT),
    (BenchFault("virtual ECU bms: no boot decision 5 s after power on"), BENCH_TIMEOUT),
    (BenchFault("gateway gateway-body: forwarding thread(s) tester->ecu did not stop"), BENCH_TIMEOUT),
    (BenchFault("virtual ECU bms: RuntimeError('simulated crash')"), RIG),
    (BenchFault("bench did not close cleanly: tester link: boom"), RIG),
    (SuspectedBenchFault("the tester went silent after the ECU's flow control",
                         ResumeFailed("expected outcome 'updated' (version 2.0.0) but the ECU runs 1.0.0")), SUSPECTED),
    (SuspectedBenchFault("no fault fired: the update failed before its trigger point",
                         FlashError("bcm: RequestDownload failed: timeout")), SUSPECTED),
    (SuspectedBenchFault("the simulator answered late: bus 'body' power supply did not answer",
                         EcuBricked("bms is bricked")), SUSPECTED),
    (HostOverloaded("host overloaded, the ECU's verdict is void (ResumeFailed: ...): virtual ECU bms gave its "
                    "answer to RequestTransferExit 412 ms after the request, meaning to give it within 12 ms; "
                    "the tester waits 175 ms: the simulator did not get the CPU"), OVERLOADED),
    (ConfigError("scenario bms-full-brown_out@erase: the brown_out at erase never fired", file="network.yaml",
                 line=12, field="at"), USAGE),
    (UsageError("ECU 'bms' has no power supply on this bench: no power fault can act on it"), USAGE),
    (TypeError("unsupported operand type(s) for +: 'int' and 'str'"), None),  # a bug in a test: Allure's own
]


def load_categories() -> list[dict[str, Any]]:
    return json.loads(CATEGORIES_FILE.read_text(encoding="utf-8"))


def allure_status(exc: BaseException) -> str:
    """As allure-pytest decides: assertions and pytest.fail fail a test, anything else breaks it."""
    return "failed" if isinstance(exc, (AssertionError, pytest.fail.Exception)) else "broken"


def message(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException:  # noqa: BLE001 - any exception a test can end with
        return pytest.ExceptionInfo.from_current().exconly()


def allure2_categories(status: str, text: str) -> list[str]:
    return [c["name"] for c in load_categories()
            if status in c["matchedStatuses"] and re.fullmatch(c["messageRegex"], text)]


def allure3_categories(status: str, text: str) -> list[str]:
    return [c["name"] for c in load_categories()
            if status in c["matchedStatuses"] and re.search(c["messageRegex"], text)]


@pytest.mark.parametrize(("exc", "category"), SAMPLES, ids=[f"{type(e).__name__}-{i}" for i, (e, _) in
                                                             enumerate(SAMPLES)])
def test_each_failure_lands_in_exactly_one_category(exc: BaseException, category: str | None) -> None:
    status, text = allure_status(exc), message(exc)
    expected = [category] if category else []
    assert allure2_categories(status, text) == expected, text
    assert allure3_categories(status, text) == expected, text


def test_product_defects_and_bench_faults_are_told_apart_by_name() -> None:
    names = [category["name"] for category in load_categories()]
    assert names[:8] == [BRICKED, WRONG_VERSION, ROLLBACK, RESUME, NVM, FLASH_STEP, UDS, OTHER_CHECK]
    assert names[8:12] == [ADAPTER, INSTRUMENT, BENCH_TIMEOUT, RIG]
    assert OVERLOADED in names[12:]


def test_allure3_javascript_regexps_sort_like_python() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Allure 3 needs it too)")
    script = """
        const {categories, samples} = JSON.parse(require("fs").readFileSync(0, "utf-8"));
        const first = ([status, text]) => {
            const hit = categories.find(c => c.matchedStatuses.includes(status) && new RegExp(c.messageRegex).test(text));
            return hit ? hit.name : null;
        };
        process.stdout.write(JSON.stringify(samples.map(first)));
    """
    samples = [[allure_status(exc), message(exc)] for exc, _ in SAMPLES]
    done = subprocess.run([node, "-e", script], input=json.dumps({"categories": load_categories(), "samples": samples}),
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == [category for _, category in SAMPLES]
