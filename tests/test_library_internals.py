"""The private internals of python-can, can-isotp, udsoncan, pytest, bincopy, doipclient and Allure 3
(npm) that the bench relies on.

Each is named here with the module that uses it, and checked on the installed version, so an
upgrade that changes one fails here with what to look at, not somewhere deep in a flash. The
upper bounds in pyproject.toml are the versions this passed on; raise one after this passes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import queue
import re
import tarfile
import threading
from importlib.metadata import version
from pathlib import Path

import bincopy
import can
import isotp
import pytest
from can.interfaces import virtual
from udsoncan.BaseService import BaseService
from udsoncan.connections import PythonIsoTpV2Connection
from udsoncan.ResponseCode import ResponseCode

from bench.report.packed_html import ALLURE_VERSION, ANALYTICS, embedded_app, embedded_files
from report_suite import NODE_MODULES, REPO, generate_report


def relies(condition: bool, library: str, internal: str, user: str) -> None:
    assert condition, (f"{library} {version(library)} changed {internal}, which {user} relies on: adapt "
                       f"{user} (and the upper bound of {library} in pyproject.toml)")


# -- python-can: bench/transport/virtual_bus.py subclasses VirtualBus ---------------------------

def test_python_can_virtual_bus_channels_and_queues() -> None:
    user = "bench/transport/virtual_bus.py (BenchVirtualBus)"
    relies(isinstance(virtual.channels, dict), "python-can", "can.interfaces.virtual.channels (a dict)", user)
    relies(hasattr(virtual.channels_lock, "acquire"), "python-can", "can.interfaces.virtual.channels_lock", user)
    bus = virtual.VirtualBus(channel="internals-check")
    try:
        relies(isinstance(bus.channel, list) and any(queue is bus.queue for queue in bus.channel), "python-can",
               "VirtualBus.channel (the channel's list of receiver queues) and VirtualBus.queue", user)
        relies(bus.channel_id == "internals-check" and virtual.channels["internals-check"] is bus.channel,
               "python-can", "VirtualBus.channel_id and the registry of channels", user)
        relies(hasattr(bus, "receive_own_messages") and callable(getattr(bus, "_check_if_open", None)),
               "python-can", "VirtualBus.receive_own_messages and _check_if_open()", user)
        relies(bus._open and "if not self._open:" in inspect.getsource(virtual.VirtualBus._check_if_open),
               "python-can", "VirtualBus._open (what _check_if_open() tests)", user + ": send_isotp_frame tests it itself")
    finally:
        bus.shutdown()
    relies(list(inspect.signature(can.BusABC._apply_filters).parameters) == ["self", "filters"], "python-can",
           "BusABC._apply_filters(filters)", user)
    relies(list(inspect.signature(virtual.VirtualBus._recv_internal).parameters) == ["self", "timeout"],
           "python-can", "VirtualBus._recv_internal(timeout)", user)
    relies(queue_calls(virtual, "self.queue", "bus_queue") <= {"get", "put"}, "python-can",
           "VirtualBus's receive queues (only put and get: an unbounded one may be a SimpleQueue)",
           user + " (_FilteredQueue)")



def test_python_can_message_fields_and_can_isotp_sender() -> None:
    from bench.transport.virtual_bus import _received

    user = "bench/transport/virtual_bus.py (_received sets a frame's fields slot by slot)"
    fields = {"arbitration_id", "bitrate_switch", "channel", "data", "dlc", "error_state_indicator", "is_error_frame",
              "is_extended_id", "is_fd", "is_remote_frame", "is_rx", "timestamp"}
    relies(set(can.Message.__slots__) - {"__weakref__"} == fields, "python-can", "can.Message.__slots__ (its fields)",
           user)
    frame = _received(0x7E0, b"\x02\x10\x03", False, False, False, "ch")
    assert frame.equals(can.Message(arbitration_id=0x7E0, data=b"\x02\x10\x03", is_extended_id=False, channel="ch",
                                    timestamp=frame.timestamp))
    source = inspect.getsource(isotp.protocol.python_can_tx_canbus_3plus)
    relies(all(f"{name}=msg.{name}" in source for name in ("arbitration_id", "data", "is_extended_id", "is_fd",
                                                           "bitrate_switch")),
           "can-isotp", "python_can_tx_canbus_3plus (a frame's fields as a can.Message to bus.send)",
           "bench/transport/isotp_link.py (AddressedStack sends with BenchVirtualBus.send_isotp_frame instead)")

def queue_calls(module: object, *queues: str) -> set[str]:
    """The methods a library's source calls on the expressions ``queues`` (``self.queue``)."""
    names = "|".join(re.escape(name) for name in queues)
    return set(re.findall(rf"(?<![\w.])(?:{names})\.(\w+)\(", inspect.getsource(module)))  # type: ignore[arg-type]


# -- can-isotp: bench/transport/isotp_link.py and uds_client.py ---------------------------------

def test_can_isotp_notifier_stack_internals() -> None:
    user = "bench/transport/isotp_link.py (AddressedStack)"
    relies(callable(getattr(isotp.NotifierBasedCanStack, "_on_message_received", None)), "can-isotp",
           "NotifierBasedCanStack._on_message_received(msg)", user)
    bus = can.Bus(interface="virtual", channel="internals-check-isotp")
    notifier = can.Notifier(bus, [])
    try:
        stack = isotp.NotifierBasedCanStack(bus, notifier, address=isotp.Address(txid=0x7E0, rxid=0x7E8))
        events = getattr(stack, "events", None)
        relies(all(isinstance(getattr(events, name, None), threading.Event)
                   for name in ("reset_tx_complete", "reset_rx_complete")), "can-isotp",
               "TransportLayer.events.reset_tx_complete / reset_rx_complete (threading.Event)", user)
        relies(hasattr(stack, "main_thread"), "can-isotp", "TransportLayer.main_thread (its worker thread)",
               "bench/transport/uds_client.py (BenchAwareConnection: a stopped stack is a bench fault)")
        relies(callable(getattr(stack, "post_send_callback", None)) and hasattr(stack, "tx_queue"), "can-isotp",
               "TransportLayerLogic.post_send_callback(request) and .tx_queue", user + ": sending()")
        request = isotp.TransportLayer.SendRequest(b"\x10", isotp.TargetAddressType.Physical)
        request.complete(False)
        relies(request.complete_event.is_set(), "can-isotp", "SendRequest.complete() sets .complete_event",
               user + ": sending()")
        relies(isinstance(getattr(stack, "rx_relay_queue", None), queue.Queue)
               and isinstance(getattr(events, "stop_requested", None), threading.Event)
               and callable(getattr(stack, "_rx_canbus", None)) and hasattr(stack, "buffered_reader"),
               "can-isotp", "TransportLayer.rx_relay_queue (what the main thread reads), events.stop_requested, "
               "NotifierBasedCanStack._rx_canbus (the relay thread's read) and buffered_reader (None when stopped)",
               user + ": frames go straight to the main thread's queue")
        relies("self._set_rxfn(self._read_relay_queue)" in inspect.getsource(isotp.TransportLayer.start)
               and stack.rx_state == stack.RxState.IDLE and stack.tx_state == stack.TxState.IDLE
               and "self.events.reset_tx.set()" in inspect.getsource(isotp.TransportLayer.stop_sending),
               "can-isotp", "TransportLayer._read_relay_queue(timeout) (the main thread's read), rx_state/"
               "tx_state (RxState/TxState.IDLE) and stop_sending() setting events.reset_tx",
               user + ": an idle main thread waits IDLE_WAIT, woken by reset_tx/reset_rx")
        normal = isotp.Address(txid=0x7E0, rxid=0x7E8)
        relies(normal.is_for_me.__func__ is isotp.Address._is_for_me_normal
               and "return msg.arbitration_id == self._rxid" in inspect.getsource(isotp.Address._is_for_me_normal),
               "can-isotp", "Address.is_for_me bound to _is_for_me_normal for normal addressing (the CAN id alone)",
               user + ".frame_key (bench/transport/direct_notifier.py routes frames by it)")
        read = inspect.getsource(isotp.TransportLayer._read_relay_queue)
        relies("return self.rx_relay_queue.get(block=True, timeout=timeout)" in read and "except queue.Empty:" in read
               and "return None" in read, "can-isotp", "TransportLayer._read_relay_queue (a get with the timeout, "
               "None when empty)", user + " (its own _read_relay_queue does the same get)")
        relies(queue_calls(isotp.protocol, "self.rx_relay_queue", "self.rx_queue")
               <= {"put", "get", "get_nowait", "empty"}, "can-isotp",
               "TransportLayer.rx_relay_queue and rx_queue (only put, get, get_nowait, empty)",
               user + ": both are SimpleQueues")
        relies(callable(getattr(stack, "txfn", None)), "can-isotp", "TransportLayerLogic.txfn (sends a frame)",
               "bench/sim/isotp_server.py (EcuStack: when an answer's first frame goes on the bus), "
               "bench/transport/functional_send.py (when a functional frame goes on the bus)")
    finally:
        notifier.stop()
        bus.shutdown()


def test_can_isotp_consecutive_frame_paths_as_steady_frames_mirrors_them() -> None:
    """SteadyFrames repeats what can-isotp 2.0.7 does with a consecutive frame; its own test
    (tests/test_isotp_steady.py) compares the two frame by frame on the installed version. Any
    change to these sources needs that comparison re-read, not only re-run."""
    protocol, tools = isotp.protocol, isotp.tools
    mirrored = [protocol.TransportLayerLogic.process, protocol.TransportLayerLogic._process_tx,
                protocol.TransportLayerLogic._process_rx, protocol.TransportLayerLogic._start_rx_cf_timer,
                protocol.TransportLayerLogic._make_tx_msg, protocol.PDU.__init__, protocol.RateLimiter.allowed_bytes,
                protocol.RateLimiter.inform_byte_sent, tools.Timer, tools.FiniteByteGenerator,
                protocol.TransportLayerLogic.SendRequest.__init__]
    digest = hashlib.sha256("".join(inspect.getsource(code) for code in mirrored).encode()).hexdigest()[:16]
    relies(digest == "79ea951e3a4bcd4f", "can-isotp",
           "TransportLayerLogic.process/_process_tx/_process_rx/_start_rx_cf_timer/_make_tx_msg, PDU, RateLimiter, "
           "Timer, FiniteByteGenerator (its _gen, _consumed, _depleted) or SendRequest's (generator, size) "
           "(the consecutive-frame paths)",
           "bench/transport/isotp_steady.py (SteadyFrames; then update this digest)")


# -- udsoncan: the tester's connection, the monitor's decoder, the simulator's speed-up --------

def test_udsoncan_connection_service_and_response_code_internals() -> None:
    user = "bench/transport/uds_client.py (BenchAwareConnection)"
    relies(list(inspect.signature(PythonIsoTpV2Connection.specific_wait_frame).parameters) == ["self", "timeout"],
           "udsoncan", "PythonIsoTpV2Connection.specific_wait_frame(timeout)", user)
    relies(callable(getattr(PythonIsoTpV2Connection, "check_connection_opened", None)), "udsoncan",
           "PythonIsoTpV2Connection.check_connection_opened()", user)
    relies("isotp_layer" in inspect.signature(PythonIsoTpV2Connection.__init__).parameters, "udsoncan",
           "PythonIsoTpV2Connection(isotp_layer) kept as .isotp_layer", user)
    relies(BaseService.from_request_id(0x36).__name__ == "TransferData", "udsoncan",
           "BaseService.from_request_id(sid)", "bench/monitor/decode.py")
    lookup = inspect.getattr_static(ResponseCode, "get_name")
    relies(isinstance(lookup, classmethod) and ResponseCode.get_name(0x78) == "RequestCorrectlyReceived_ResponsePending",
           "udsoncan", "ResponseCode.get_name (a classmethod)", "bench/transport/udsoncan_speedup.py")
    from udsoncan.BaseService import BaseSubfunction
    from udsoncan.services import DiagnosticSessionControl
    relies(isinstance(inspect.getattr_static(BaseSubfunction, "get_name"), classmethod)
           and DiagnosticSessionControl.Session.get_name(2) == "programmingSession",
           "udsoncan", "BaseSubfunction.get_name (a classmethod)", "bench/transport/udsoncan_speedup.py")


# -- pytest: the pytest layer -----------------------------------------------------------------

def test_pytest_internals(pytestconfig: pytest.Config) -> None:
    from _pytest.junitxml import xml_key
    from _pytest.runner import runtestprotocol

    relies(list(inspect.signature(runtestprotocol).parameters) == ["item", "log", "nextitem"], "pytest",
           "_pytest.runner.runtestprotocol(item, log, nextitem)", "bench/pytest/retry.py")
    relies(isinstance(xml_key, pytest.StashKey), "pytest", "_pytest.junitxml.xml_key (the LogXML's stash key)",
           "bench/pytest/junit.py")
    factory = getattr(pytestconfig, "_tmp_path_factory", None)
    relies(isinstance(factory, pytest.TempPathFactory), "pytest", "Config._tmp_path_factory",
           "bench/pytest/collect.py (a scenario's working folder)")


def test_pytest_assertion_rewriting_left_to_tests() -> None:
    import sys

    from _pytest.assertion.rewrite import AssertionRewritingHook

    import bench.scenarios.runner

    user = "bench/pytest/rewrite_scope.py"
    hooks = [finder for finder in sys.meta_path if isinstance(finder, AssertionRewritingHook)]
    relies(len(hooks) == 1, "pytest", "its AssertionRewritingHook in sys.meta_path", user)
    hook = hooks[0]
    relies(isinstance(getattr(hook, "_must_rewrite", None), set)
           and isinstance(getattr(hook, "_marked_for_rewrite_cache", None), dict), "pytest",
           "AssertionRewritingHook._must_rewrite (a set) and _marked_for_rewrite_cache (a dict)", user)
    assert "bench" not in hook._must_rewrite and "hypothesis" not in hook._must_rewrite
    assert bench.scenarios.runner.__spec__.loader is not hook  # compiled as a plain module
    assert sys.modules[__name__].__spec__.loader is hook  # a test module: its asserts rewritten


# -- bincopy: bench/image/software/record_file.py decodes records one line at a time ---------------

def test_bincopy_record_decoders() -> None:
    user = "bench/image/software/record_file.py (unpack) and intel_hex.py/srecord.py"
    relies(bincopy.unpack_ihex(":0400100001020304E2") == (0, 0x10, 4, bytearray(b"\x01\x02\x03\x04")),
           "bincopy", "unpack_ihex(record) -> (type, address, size, data), undocumented", user)
    relies(bincopy.unpack_srec("S107001001020304DE") == ("1", 0x10, 4, bytearray(b"\x01\x02\x03\x04")),
           "bincopy", "unpack_srec(record) -> (type, address, size, data), undocumented", user)
    try:
        bincopy.unpack_ihex(":0400100001020304E3")
    except bincopy.Error as exc:
        relies(str(exc).startswith("expected crc"), "bincopy",
               "the message of a bad record checksum ('expected crc ...')", user)
    else:
        relies(False, "bincopy", "unpack_ihex raising bincopy.Error on a bad checksum", user)


# -- doipclient: bench/transport/doip_link.py (SlicedDoIPClient) shortens its socket's timeout -----

def test_doipclient_connects_in_connect_and_reads_tcp_sock() -> None:
    from doipclient import DoIPClient

    user = "bench/transport/doip_link.py (SlicedDoIPClient)"
    relies(callable(getattr(DoIPClient, "_connect", None)), "doipclient", "DoIPClient._connect", user)
    source = inspect.getsource(DoIPClient._connect)
    relies("self._tcp_sock" in source and "settimeout" in source, "doipclient",
           "DoIPClient._connect (opens self._tcp_sock and sets its timeout)", user)
    relies("self._connect()" in inspect.getsource(DoIPClient.reconnect), "doipclient",
           "DoIPClient.reconnect (connects through _connect)", user)
    relies("self.reconnect()" in inspect.getsource(DoIPClient.send_doip)
           and "close_delay" in inspect.signature(DoIPClient.reconnect).parameters, "doipclient",
           "DoIPClient.send_doip (reconnects through self.reconnect(), whose close_delay SlicedDoIPClient sets)", user)
    read = inspect.getsource(DoIPClient.read_doip)
    relies("self._tcp_sock.recv" in read and "socket.timeout" in read, "doipclient",
           "DoIPClient.read_doip (reads self._tcp_sock until its timeout)", user)


# -- Allure 3 (npm, pinned in the Makefile): bench/report/packed_html.py repacks its single-file report --

def test_allure_single_file_report_embeds_its_app_and_data_as_packed_html_reads_them(tmp_path: Path) -> None:
    user = "bench/report/packed_html.py and packed_html_loader.js"
    pinned = re.search(r"^ALLURE_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert pinned is not None and pinned[1] == ALLURE_VERSION, (
        f"the Makefile pins Allure {pinned and pinned[1]}, {user} reads the format of {ALLURE_VERSION}: check "
        "that format (the checks below) and set ALLURE_VERSION in packed_html.py")
    (tmp_path / "allure-results").mkdir()
    result = {"uuid": "0f0e0d0c-0000-4000-8000-000000000001", "historyId": "internals", "name": "test_internals",
              "fullName": "internals#test_internals", "status": "passed", "start": 1, "stop": 2, "labels": []}
    (tmp_path / "allure-results" / f"{result['uuid']}-result.json").write_text(json.dumps(result))
    index = generate_report(tmp_path, packed=False)
    installed = json.loads((NODE_MODULES / "allure" / "package.json").read_text())["version"]
    assert installed == ALLURE_VERSION, (
        f"Allure {installed} is installed in .node, {user} reads the single file of Allure {ALLURE_VERSION}: "
        "make clean, then make test installs the pinned one")
    html = index.read_text(encoding="utf-8")
    files = embedded_files(html, str(index))  # the page's d(name, base64) calls
    results = [json.loads(content) for name, content in files.items() if name.startswith("data/test-results/")]
    assert [found["name"] for found in results] == ["test_internals"], sorted(files)
    assert any(name.startswith("widgets/") for name in files), sorted(files)
    _, app = embedded_app(html, str(index))  # the one script with a data:text/javascript URL
    assert len(ANALYTICS.findall(html)) == 1 and "googletagmanager" not in ANALYTICS.sub("", html), (
        f"Allure {installed}'s page no longer loads Google Analytics in the one block packing drops: check "
        "ANALYTICS in packed_html.py, so that a packed report still calls no one outside the lab")

    # The app reads the data when it needs it: it waits for allureReportDataReady (polling), then takes
    # the base64 of a file from allureReportData, which must exist (else it fetches files beside the page).
    archive = NODE_MODULES / "@allurereport" / "plugin-awesome" / "dist" / "static" / "report.tar"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        main_js = tar.extractfile(manifest["main.js"]).read()
    assert app == main_js, f"Allure {installed}'s page no longer embeds its app (main.js) as a data URL"
    code = app.decode()
    for reads, what in ((r"if\(globalThis\.allureReportDataReady\)return \w+\(!0\);setTimeout\(\w+,\d+\)",
                         "polls window.allureReportDataReady until it is true"),
                        (r"if\(globalThis\.allureReportData\)\{const\[\w+\]=\w+\.split\(\"\?\"\);"
                         r"return`data:\$\{\w+\};base64,\$\{", "reads window.allureReportData[name] as base64")):
        assert re.search(reads, code), f"Allure {installed}'s app no longer {what}, as {user} rely on"
