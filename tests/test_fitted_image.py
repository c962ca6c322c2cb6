"""A catalog scenario flashes no more of its image than its trigger point needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_bench
from bench.image.builders import firmware_builder
from bench.image.format import HEADER_SIZE
from bench.scenarios.campaign_catalog import ecu_catalogs
from bench.scenarios.catalog import load_catalog
from bench.scenarios.fitted_image import fitted_payload
from bench.scenarios.runner import play

REPO = Path(__file__).resolve().parents[1]
FULL = 65536
BCM_BLOCK, BMS_BLOCK = 4096, 16384


@pytest.fixture(scope="module")
def shipped() -> tuple:
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    kinds = {name: config.profiles[ecu.profile].bootloader for name, ecu in config.ecus.items()}
    scenarios = {(s.campaign, s.id): s for path in ecu_catalogs(REPO / "testcases" / "scenarios")
                 for s in load_catalog(path, ecus=kinds)}
    return config, scenarios


def payload(shipped: tuple, campaign: str, scenario_id: str) -> int | None:
    config, scenarios = shipped
    scenario = scenarios[(campaign, scenario_id)]
    ecu = config.ecus[scenario.ecu]
    return fitted_payload(scenario, ecu, config.profiles[ecu.profile], FULL)


@pytest.mark.parametrize(("campaign", "scenario_id", "blocks"), [
    ("power-loss", "bcm-full-power_cut@block:3", 4 * BCM_BLOCK),       # blocks 1..3 and one more
    ("power-loss", "bcm-full-power_cut@offset:0x1000", 3 * BCM_BLOCK),  # byte 0x1000 is in block 2
    ("power-loss", "bcm-full-power_cut@page:0", 2 * BCM_BLOCK),
    ("power-loss", "bcm-full-power_cut@sector:4", 6 * BCM_BLOCK),       # sector 4 ends at 20 KiB: block 5, +1
    ("power-loss", "bcm-full-power_cut@session", 2 * BCM_BLOCK),
    ("power-loss", "bms-full-power_cut@check", 2 * BMS_BLOCK),
    ("brown-out", "bcm-full-brown_out@page:21", 3 * BCM_BLOCK),
    ("network", "bcm-full-corruption@block:8-s4", 9 * BCM_BLOCK),       # one corrupted frame
])
def test_the_image_ends_one_block_after_the_trigger_point(shipped, campaign, scenario_id, blocks) -> None:
    assert payload(shipped, campaign, scenario_id) == blocks - HEADER_SIZE


@pytest.mark.parametrize(("campaign", "scenario_id"), [
    ("power-loss", "bcm-full-power_cut@middle_block"),       # depends on the number of blocks
    ("power-loss", "bcm-full-power_cut@last_block"),
    ("power-loss", "bcm-full-power_cut@offset:0x100ff"),     # the last block: the whole image
    ("power-loss", "bms-full-power_cut@page:200"),           # block 4 of 5, and one more: all of them
    ("network", "bcm-full-frame_loss@block:8-s4"),           # lasts 0.5 s into the following blocks
    ("intermittent-supply", "bcm-full-intermittent_supply@block:2"),
])
def test_the_full_image_stays_where_the_point_or_the_fault_needs_it(shipped, campaign, scenario_id) -> None:
    assert payload(shipped, campaign, scenario_id) is None


def test_a_fitted_image_is_the_same_release_cut_short() -> None:
    build = firmware_builder(REPO)
    full, fitted = build("app-2.0.0"), build("app-2.0.0", payload=2 * BCM_BLOCK - HEADER_SIZE)
    assert len(fitted.to_bytes()) == 2 * BCM_BLOCK
    assert (fitted.header.version, fitted.header.security_version) == (full.header.version,
                                                                       full.header.security_version)
    assert fitted.payload == full.payload[:len(fitted.payload)]
    assert fitted.app == full.app


def test_a_fitted_scenario_cuts_at_its_block_and_ends_updated(shipped, tmp_path: Path) -> None:
    config, scenarios = shipped
    outcome = play(config, scenarios[("power-loss", "bcm-full-power_cut@block:3")], firmware_builder(REPO),
                   workdir=tmp_path)
    first, last = outcome.attempts[0], outcome.attempts[-1]
    # the cut lands before the virtual ECU acts on block 3 (bench.faults.uds_events): 1 and 2 answered
    assert first.blocks_sent == 2
    assert last.version_after == "2.0.0" and first.blocks_sent + last.blocks_sent <= 5
