"""Scenario catalogs: matrix expansion, stable ids, and every mistake named by file, line and key."""

from __future__ import annotations

import textwrap
import zlib
from collections import Counter
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.image.builders import firmware_builder
from bench.faults.kinds import BUILTIN
from bench.scenarios.campaign_catalog import ecu_catalogs
from bench.scenarios.catalog import PHASES, Expectations, Scenario, load_catalog, parse_at

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ecu_catalogs(REPO / "testcases" / "scenarios")
ECUS = {"bcm": "single_bank", "bms": "ab", "eps": "his"}
FIRMWARE = sorted(path.stem for path in (REPO / "fixtures" / "firmware").glob("*.yaml"))
BENCH_PHASES = ("session", "security", "erase", "first_block", "middle_block", "last_block", "transfer_exit",
                "check", "reset", "boot", "confirm")
"""The phases of the bench's own bootloaders the shipped catalogs cover (PHASES adds HIS steps)."""
HEAD = "campaign: demo\ndefaults: {to: app-2.0.0}\n"  # bodies below start on line 3


def load(tmp_path: Path, body: str) -> list[Scenario]:
    path = tmp_path / "demo.yaml"
    path.write_text(HEAD + textwrap.dedent(body))
    return load_catalog(path, ecus=ECUS, firmware=FIRMWARE, delta_ecus=["bms"])


def ids(scenarios: list[Scenario]) -> list[str]:
    return [scenario.id for scenario in scenarios]


def test_the_matrix_is_a_cartesian_product_in_written_order_with_defaults(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix:
          ecu: [bcm, bms]
          fault: power_cut
          at: [erase, "block:3"]
          interruptions: [1, 2]
        """)

    assert ids(scenarios) == [
        "bcm-full-power_cut@erase", "bcm-full-power_cut@erase-x2",
        "bcm-full-power_cut@block:3", "bcm-full-power_cut@block:3-x2",
        "bms-full-power_cut@erase", "bms-full-power_cut@erase-x2",
        "bms-full-power_cut@block:3", "bms-full-power_cut@block:3-x2"]
    first = scenarios[0]
    assert (first.campaign, first.line, first.source) == ("demo", 3, (tmp_path / "demo.yaml").resolve())
    assert (first.from_image, first.to_image, first.package, first.seed) == ("factory", "app-2.0.0", "full", 0)
    assert first.expect == Expectations() and dict(first.params) == {} and first.tags == ()


def test_exclude_drops_include_adds_or_extends(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix:
          ecu: [bcm, bms]
          fault: power_cut
          at: [erase, confirm, "block:3"]
        params: {power_cut: {off_for: 0.05}}
        tags: [power]
        exclude:
          - {ecu: bcm, at: confirm}
          - {ecu: bms, at: "block:03"}
        include:
          - {ecu: bms, fault: power_cut, at: "block:5", interruptions: 2}
          - {ecu: bms, at: erase, params: {off_for: 0.5}, tags: [slow]}
          - {ecu: bcm, fault: brown_out, at: [erase, boot]}
        """)

    assert ids(scenarios) == ["bcm-full-power_cut@erase", "bcm-full-power_cut@block:3", "bms-full-power_cut@erase",
                              "bms-full-power_cut@confirm", "bms-full-power_cut@block:5-x2",
                              "bcm-full-brown_out@erase", "bcm-full-brown_out@boot"]
    assert [scenario.line for scenario in scenarios] == [3, 3, 3, 3, 13, 15, 15]
    extended = scenarios[2]
    assert dict(extended.params) == {"off_for": 0.5} and extended.tags == ("power", "slow")
    assert dict(scenarios[0].params) == {"off_for": 0.05} and scenarios[0].tags == ("power",)


def test_exclude_and_include_match_on_any_keys_they_give(tmp_path: Path) -> None:
    """A key left to ``defaults`` excludes too; an include giving some matrix keys extends every
    combination with those values, in the matrix's order; a value matching none adds a case."""
    scenarios = load(tmp_path, """\
        matrix:
          ecu: [bcm, bms]
          fault: [power_cut, brown_out]
          at: [erase, reset, "block:3"]
        exclude:
          - {seed: 0, at: reset, fault: brown_out}
        include:
          - {at: erase, tags: [first]}
          - {fault: brown_out, at: "block:3", tags: [late]}
          - {ecu: bcm, fault: brown_out, at: boot, tags: [late]}
        """)

    assert [(scenario.id, scenario.tags) for scenario in scenarios] == [
        ("bcm-full-power_cut@erase", ("first",)), ("bcm-full-power_cut@reset", ()),
        ("bcm-full-power_cut@block:3", ()), ("bcm-full-brown_out@erase", ("first",)),
        ("bcm-full-brown_out@block:3", ("late",)), ("bms-full-power_cut@erase", ("first",)),
        ("bms-full-power_cut@reset", ()), ("bms-full-power_cut@block:3", ()),
        ("bms-full-brown_out@erase", ("first",)), ("bms-full-brown_out@block:3", ("late",)),
        ("bcm-full-brown_out@boot", ("late",))]


def test_overrides_merge_params_and_expectations_where_all_keys_match(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix: {ecu: [bcm, bms], fault: [power_cut, brown_out], at: [erase, reset]}
        params: {brown_out: {volts: 5.0, lasting: 0.2}}
        overrides:
          - when: {fault: brown_out, at: erase}
            set: {params: {volts: 4.0}, expect: {max_resent_blocks: null}}
          - when: {ecu: bcm, at: [erase, reset]}
            set: {expect: {versions: [old, new, bootloader]}}
        expect: {outcome: updated, nvm_consistent: true}
        """)
    by_id = {scenario.id: scenario for scenario in scenarios}

    changed = by_id["bcm-full-brown_out@erase"]
    assert dict(changed.params) == {"volts": 4.0, "lasting": 0.2}
    assert changed.expect == Expectations(versions=("old", "new", "bootloader"), max_resent_blocks=None)
    untouched = by_id["bms-full-brown_out@reset"]
    assert dict(untouched.params) == {"volts": 5.0, "lasting": 0.2} and untouched.expect == Expectations()
    assert by_id["bms-full-brown_out@erase"].expect == Expectations(max_resent_blocks=None)


def test_ids_are_stable_across_loads_and_when_unrelated_values_are_appended(tmp_path: Path) -> None:
    body = 'matrix: {{ecu: [bcm, bms], fault: [power_cut{more_faults}], at: [erase, "block:2"{more_at}]}}\n'
    before = load(tmp_path, body.format(more_faults="", more_at=""))
    assert ids(load(tmp_path, body.format(more_faults="", more_at=""))) == ids(before)

    after = load(tmp_path, body.format(more_faults=", bus_off", more_at=', "offset:0x8000", check'))

    assert len(after) == 2 * 2 * 4 and set(ids(before)) <= set(ids(after))
    same = {scenario.id: scenario for scenario in after}
    assert all(same[scenario.id] == scenario for scenario in before)


def test_the_seed_is_in_the_id_where_it_matters(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix: {ecu: bms, fault: [power_cut, frame_loss], at: [erase, random_block], seed: 3}
        include:
          - {ecu: bms, fault: power_cut, at: "block:2", seed: [1, 2]}
        """)

    assert ids(scenarios) == ["bms-full-power_cut@erase", "bms-full-power_cut@random_block-s3",
                              "bms-full-frame_loss@erase-s3", "bms-full-frame_loss@random_block-s3",
                              "bms-full-power_cut@block:2-s1", "bms-full-power_cut@block:2-s2"]


def test_the_update_is_in_the_id_where_it_matters(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix: {ecu: bms, fault: power_cut, at: [erase], to: [app-2.0.0, app-0.9.0-downgrade]}
        include:
          - {ecu: bms, fault: power_cut, at: check, to: app-0.9.0-downgrade, seed: [1, 2]}
        """)

    assert ids(scenarios) == ["bms-full-power_cut@erase-factory-to-app-2.0.0",
                              "bms-full-power_cut@erase-factory-to-app-0.9.0-downgrade",
                              "bms-full-power_cut@check-s1", "bms-full-power_cut@check-s2"]


@pytest.mark.parametrize(("written", "normal"), [
    ("erase", "erase"), (" confirm ", "confirm"), ("block:03", "block:3"), ("offset:32768", "offset:0x8000"),
    ("offset:0X8000", "offset:0x8000"), ("page:0", "page:0"), ("sector:16", "sector:16"),
    ("patch_step:07", "patch_step:7"),
    ("random_block", "random_block"), ("erase@01", "erase@1"), ("block:3@1", "block:3@1"),
    (" check_block @ 0 ", "check_block@0"), ("preconditions", "preconditions")])
def test_trigger_points_are_normalised(written: str, normal: str) -> None:
    assert parse_at(written) == normal


@pytest.mark.parametrize(("written", "words"), [
    ("reset@1", "only erase, request_download, first_block, transfer_exit, check_block, block take @N"),
    ("erase@x", "'x' is not a number"), ("erase@-1", "'-1' is negative"), ("eraze@1", "did you mean 'erase'")])
def test_bad_logical_block_points(written: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_at(written)


def test_logical_block_points_are_for_his_ecus_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'erase@1' is a point of a bootloader with logical blocks \\(his\\); 'bcm'"):
        load(tmp_path, "matrix: {ecu: bcm, fault: power_cut, at: [\"erase@1\"]}\n")
    with pytest.raises(ConfigError, match="'preconditions' is a point of a bootloader with logical blocks"):
        load(tmp_path, "matrix: {ecu: bms, fault: power_cut, at: preconditions}\n")
    [scenario] = load(tmp_path, "matrix: {ecu: eps, fault: corruption, at: [\"check_block@1\"]}\n")
    assert scenario.at == "check_block@1"            # a bus point, in logical block 1


M = "matrix: {ecu: [bcm, bms], fault: power_cut, at: [erase, reset]}\n"  # line 3
ERRORS = {
    "unknown top-level key": (M + "tagz: [x]\n", 4, "tagz", "did you mean 'tags'?"),
    "unknown matrix key": ("matrix: {ecu: bcm, fault: power_cut, at: erase, intteruptions: 2}\n", 3,
                           "matrix.intteruptions", "did you mean 'interruptions'?"),
    "unknown fault parameter": (M + "params:\n  power_cut: {of_for: 1}\n", 5, "params.power_cut.of_for",
                                "did you mean 'off_for'?"),
    "bad fault parameter": (M + "params:\n  frame_loss: {ratio: 1.5}\n", 5, "params.frame_loss.ratio",
                            "less than or equal to 1"),
    "dropouts that merge": (M + "params:\n  intermittent_supply: {off_for: 0.2, period: 0.1}\n", 5,
                            "params.intermittent_supply", "period (0.1) must be longer than off_for (0.2)"),
    "dropouts that merge in an include": (M + "include:\n  - {ecu: bms, fault: intermittent_supply, at: erase, "
                                          "params: {off_for: 0.2}}\n", 5, "include[0].params.off_for",
                                          "period (0.1) must be longer than off_for (0.2)"),
    "override without set": (M + "overrides:\n  - when: {ecu: bcm}\n", 5, "overrides[0].set",
                             "required key 'set' is missing"),
    "bad tag": (M + "tags: [nightly, two words]\n", 4, "tags[1]", "a tag is a pytest marker name"),
    "no versions": (M + "expect:\n  versions: []\n", 5, "expect.versions", "at least 1 item"),
    "misspelt from": ("matrix: {ecu: bcm, fault: power_cut, at: erase, form: factory}\n", 3, "matrix.form",
                      "did you mean 'from'?"),
    "unknown params fault": (M + "params:\n  brownout: {volts: 5}\n", 5, "params.brownout", "'brown_out'"),
    "unknown expectation": (M + "expect:\n  outcomes: updated\n", 5, "expect.outcomes", "did you mean 'outcome'?"),
    "bad expectation": (M + "expect:\n  bricked: sometimes\n", 5, "expect.bricked", "'never'"),
    "unknown fault kind": ("matrix: {ecu: bcm, fault: [power_cut, power_cutt], at: erase}\n", 3,
                           "matrix.fault[1]", "unknown fault kind 'power_cutt'; did you mean 'power_cut'?"),
    "malformed block": ("matrix:\n  ecu: bcm\n  fault: power_cut\n  at: [erase, \"block:x\"]\n", 6,
                        "matrix.at[1]", "'x' is not a number"),
    "block zero": ("matrix: {ecu: bcm, fault: power_cut, at: \"block:0\"}\n", 3, "matrix.at", "start at 1"),
    "unknown trigger point": ("matrix: {ecu: bcm, fault: power_cut, at: [erase, eras]}\n", 3, "matrix.at[1]",
                              "unknown trigger point 'eras'; did you mean 'erase'?"),
    "unquoted trigger point": ("matrix:\n  ecu: bcm\n  fault: power_cut\n  at: [block: 3]\n", 6, "matrix.at[0]",
                               '"block:3"'),
    "network fault at boot": ("matrix:\n  ecu: bms\n  fault: frame_loss\n  at: [erase, boot]\n", 6,
                              "matrix.at[1]", "frame_loss cannot strike at 'boot'"),
    "network fault at a page": ("matrix:\n  ecu: bms\n  fault: bus_off\n  at: [\"page:3\"]\n", 6,
                                "matrix.at[0]", "bus_off cannot strike at 'page:3'"),
    "unknown ECU": ("matrix: {ecu: [bcm, bxm], fault: power_cut, at: erase}\n", 3, "matrix.ecu[1]",
                    "unknown ECU 'bxm'; did you mean 'bms'? (known: bcm, bms, eps)"),
    "confirm on single-bank": ("matrix:\n  ecu: [bcm, bms]\n  fault: power_cut\n  at: [confirm]\n", 6,
                               "matrix.at[0]", "'bcm' is single_bank"),
    "rolled_back on single-bank": (M + "expect:\n  outcome: rolled_back\n", 5, "expect.outcome",
                                   "rolled_back cannot apply to single_bank ECU 'bcm'"),
    "bootloader on A/B": (M + "expect:\n  versions: [old, bootloader]\n", 5, "expect.versions",
                          "'bootloader' cannot apply to A/B ECU 'bms'"),
    "interruptions 3": ("matrix:\n  ecu: bcm\n  fault: power_cut\n  at: erase\n  interruptions: [1, 3]\n", 7,
                        "matrix.interruptions[1]", "interruptions is 1 or 2"),
    "unknown package": (M + "include:\n  - {ecu: bms, fault: power_cut, at: boot, package: detla}\n", 5,
                        "include[0].package", "unknown package 'detla'; did you mean 'delta'? (known: full, delta)"),
    "delta package for an ECU without": (M + "include:\n  - {ecu: bcm, fault: power_cut, at: boot, package: delta}\n",
                                         5, "include[0].package", "ECU 'bcm' takes no delta packages"),
    "patch step of a full package": (M + "include:\n  - {ecu: bms, fault: power_cut, at: \"patch_step:2\"}\n", 5,
                                     "include[0].at", "'patch_step:2' is a step of applying a delta package"),
    "unknown recipe": (M + "include:\n  - {ecu: bms, fault: power_cut, at: boot, to: app-9.9.9}\n", 5,
                       "include[0].to", "unknown firmware recipe 'app-9.9.9'"),
    "unknown exclude key": (M + "exclude:\n  - {ecuu: bcm}\n", 5, "exclude[0].ecuu", "did you mean 'ecu'?"),
    "unknown include key": (M + "include:\n  - {ecu: bcm, fault: power_cut, att: boot}\n", 5, "include[0].att",
                            "did you mean 'at'?"),
    "unknown override key": (M + "overrides:\n  - when: {faults: power_cut}\n    set: {expect: {}}\n", 5,
                             "overrides[0].when.faults", "did you mean 'fault'?"),
    "exclude matching nothing": (M + "exclude:\n  - {ecu: bcm, at: boot}\n", 5, "exclude[0]",
                                 "matches no combination of the matrix"),
    "override matching nothing": (M + "overrides:\n  - when: {at: boot}\n    set: {expect: {outcome: updated}}\n",
                                  5, "overrides[0].when", "matches no scenario"),
    "duplicate id": (M + "include:\n  # another start, same id\n  - {ecu: bms, fault: power_cut, at: reset}\n", 6,
                     "include[0]", "duplicate scenario id 'bms-full-power_cut@reset': made on line 3 and again "
                     "on line 6"),
    "ambiguous include": (M + "include:\n  - {ecu: bms, at: erase, seed: [1, 2]}\n", 5, "include[0]",
                          "extends the same matrix combination with several values"),
    "missing dimension": ("matrix: {ecu: bcm, at: erase}\n", 3, "matrix", "no value for 'fault'"),
    "empty expansion": (M + "exclude:\n  - {ecu: [bcm, bms]}\n", 3, "matrix", "expands to no scenario"),
}


@pytest.mark.parametrize(("body", "line", "key", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_each_mistake_is_reported_with_file_line_and_key(tmp_path: Path, body: str, line: int, key: str,
                                                         message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, body)

    where = f"{(tmp_path / 'demo.yaml').resolve()}:{line}: {key}: "
    listed = [text.strip() for text in str(error.value).splitlines()]
    assert any(text.startswith(where) and message in text for text in listed), str(error.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, "matrix: {ecu: [bxm], fault: [power_cutt], at: erase}\ntagz: []\n")

    text = str(error.value)
    assert text.startswith("3 problems in scenario catalog ")
    assert "matrix.ecu[0]" in text and "matrix.fault[0]" in text and ":4: tagz:" in text


# -- the shipped catalogs ---------------------------------------------------------------------

DOWNLOAD = 65536 + 256  # app-2.0.0 and the refused images: payload + image header
LIMITS = {"bcm": {"block": 17}, "bms": {"block": 5}}


@pytest.fixture(scope="module")
def shipped() -> dict[str, list[Scenario]]:
    return {path.name: load_catalog(path, ecus=ECUS, firmware=FIRMWARE) for path in SHIPPED}


def test_the_shipped_catalogs_load_and_hold_at_least_3000_scenarios(shipped: dict[str, list[Scenario]]) -> None:
    assert sorted(shipped) == ["brown-out.yaml", "console-disconnect.yaml", "delta.yaml", "doip.yaml",
                               "double-interruption.yaml", "intermittent-supply.yaml", "network.yaml", "power-loss.yaml", "refused-updates.yaml"]
    assert sum(len(scenarios) for scenarios in shipped.values()) >= 3000
    for scenarios in shipped.values():
        duplicates = [name for name, count in Counter(ids(scenarios)).items() if count > 1]
        assert not duplicates


def test_the_shipped_catalogs_cover_what_the_product_needs(shipped: dict[str, list[Scenario]]) -> None:
    everything = [scenario for scenarios in shipped.values() for scenario in scenarios]
    assert {scenario.ecu for scenario in everything} == {"bcm", "bms", "eps"}
    assert {scenario.fault for scenario in everything} == set(BUILTIN)
    for fault in ("power_cut", "brown_out"):
        assert {s.at for s in everything if s.fault == fault and s.ecu == "bms"} >= set(BENCH_PHASES)
        assert {s.at for s in everything if s.fault == fault and s.ecu == "bcm"} >= set(BENCH_PHASES) - {"confirm"}
        assert any(s.interruptions == 2 for s in everything if s.fault == fault)
    assert len({s.seed for s in everything if s.fault == "frame_loss"}) >= 4
    kinds = {s.at.split(":")[0] for s in everything}
    assert {"block", "offset", "page", "sector", "random_block"} <= kinds


def test_the_eps_has_a_power_cut_in_every_step_of_every_logical_block(shipped: dict[str, list[Scenario]]) -> None:
    cuts = {s.at for s in shipped["power-loss.yaml"] if s.ecu == "eps" and s.fault == "power_cut"}
    per_block = {"erase", "request_download", "first_block", "transfer_exit", "check_block"}
    assert cuts >= (set(PHASES) - {"confirm", "middle_block", "last_block"} - per_block)
    assert cuts >= {f"{point}@{block}" for point in per_block for block in (0, 1)}
    assert all(s.expect.versions == ("old", "new", "bootloader") and s.expect.bricked == "never"
               for s in shipped["power-loss.yaml"] if s.ecu == "eps")


def test_the_eps_trigger_points_lie_inside_its_blocks(shipped: dict[str, list[Scenario]]) -> None:
    transfer_blocks = {"0": 5, "1": 2}  # eps-2.0.0's zlib streams in 4094-byte TransferData blocks
    for scenario in (s for scenarios in shipped.values() for s in scenarios if s.ecu == "eps"):
        point, _, logical = scenario.at.partition("@")
        kind, _, number = point.partition(":")
        if kind == "block":
            assert 1 <= int(number) <= transfer_blocks[logical], scenario.id
        elif kind == "page":                  # application data: pages 0..127; calibration: 768..799
            assert int(number) <= 127 or 768 <= int(number) <= 799, scenario.id
        elif kind == "sector":                # the two logical blocks: sectors 0..47 and 48..55
            assert int(number) <= 55, scenario.id
        assert scenario.to_image == "eps-2.0.0" and scenario.from_image == "factory"
    app, cal = firmware_builder(REPO)("eps-2.0.0").files[0].blocks
    assert [-(-len(zlib.compress(b.data)) // 4094) for b in (app, cal)] == [5, 2]


def test_the_shipped_trigger_points_lie_inside_the_download(shipped: dict[str, list[Scenario]]) -> None:
    for scenario in (s for scenarios in shipped.values() for s in scenarios if s.ecu != "eps"):
        kind, _, number = scenario.at.partition(":")
        limit = {"block": LIMITS[scenario.ecu]["block"], "page": DOWNLOAD // 256, "sector": DOWNLOAD // 4096,
                 "offset": DOWNLOAD - 1}.get(kind)
        assert limit is None or int(number, 0) <= limit, scenario.id
        assert scenario.from_image == "factory"
        assert len(firmware_builder(REPO)(scenario.to_image).to_bytes()) == DOWNLOAD, scenario.to_image
