"""``ota-bench campaign --bench FILE --manifest M --key PUB --nvm DIR``: the reference update master
as a program of its own, reaching the vehicle only through the bench file's buses.

It is what a lab runs against a simulated vehicle served elsewhere (a test's bench with
``share: slcan`` buses, ``ota-bench sim``, a rack): the bench file names the ECUs as real ones (no
``virtual:`` section), and the master reads the vehicle state from the rest-bus frames of
``--vehicle-bus`` (``bench.vehicle.bus_conditions``). Its journal and kept software live in
``--nvm``: started again on the same folder after it was killed, it first ``recover()``s the
unfinished campaign (resumes it or goes on rolling it back) and reports that one; ``--manifest``
is not looked at then.

It prints each journaled point once as it reaches it (``campaign: at accepted``, ``campaign: at
downloading:eps``...) and at the end the report the car sends to the cloud, as one JSON line
(also written to ``--report``). Exit 0 committed, 1 not committed (refused, rolled back, rollback
failed), 2 a user error, 3 a bench fault.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.cli.common import EXIT_ECU_FAILED, EXIT_OK
from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.image import load_public_key
from bench.rig import Bench
from bench.vehicle.acceptance import CampaignRefused
from bench.vehicle.bus_conditions import BATTERY_WH, listening
from bench.vehicle.master import UpdateMaster

def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    campaign = commands.add_parser(
        "campaign", parents=[bench_file], help="run a signed campaign with the reference update master",
        description="Install the campaign of --manifest on the bench's ECUs, reached through its buses only "
                    "(no virtual ECUs: they are served elsewhere), reading the vehicle state from the bus. "
                    "An unfinished campaign in --nvm is recovered first. Exit 0 committed, 1 not committed, "
                    "2 on a user error, 3 on a bench fault.")
    campaign.add_argument("--manifest", required=True, type=Path, metavar="FILE",
                          help="the campaign manifest (YAML or JSON), its signature beside it (FILE.sig)")
    campaign.add_argument("--key", required=True, type=Path, metavar="PUB.pem",
                          help="the Ed25519 public key the manifest's signature must verify with")
    campaign.add_argument("--nvm", required=True, type=Path, metavar="DIR",
                          help="the master's own NVM: its journal and the software it keeps for a rollback")
    campaign.add_argument("--vehicle-bus", metavar="BUS",
                          help="bus carrying the vehicle state (the DBC's VCU messages); default: the first bus")
    campaign.add_argument("--battery-wh", type=float, default=BATTERY_WH, metavar="WH",
                          help="the 12 V battery's capacity: available energy is the state of charge times it "
                               f"(default: {BATTERY_WH:g})")
    campaign.add_argument("--listen", type=float, default=5.0, metavar="SECONDS",
                          help="how long to listen at start for every vehicle signal before judging the "
                               "preconditions (a woken master has heard nothing yet; default: 5)")
    campaign.add_argument("--report", type=Path, metavar="FILE", help="also write the JSON report there")
    campaign.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    simulated = [name for name, ecu in config.ecus.items() if ecu.virtual is not None]
    if simulated:
        raise ConfigError(f"the update master reaches the vehicle through the bus only; {', '.join(simulated)} "
                          "have a 'virtual:' section: serve them elsewhere and describe them as real ECUs",
                          file=str(config.source))
    vehicle_bus = args.vehicle_bus or next(iter(config.buses))
    if vehicle_bus not in config.buses:
        raise ConfigError(f"--vehicle-bus {vehicle_bus!r}: no such bus; it has: {', '.join(config.buses)}",
                          file=str(config.source))
    key = load_public_key(args.key)
    seen: set[str] = set()

    def announce(point: str) -> None:
        if point not in seen:
            seen.add(point)
            print(f"campaign: at {point}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ota-master-") as workdir, \
            Bench(config, workdir=Path(workdir), isolate=False) as rig, \
            listening(config, vehicle_bus, capacity_wh=args.battery_wh, wait=args.listen) as conditions:
        master = UpdateMaster(rig, args.nvm, key, conditions, probe=announce)
        unfinished = master.campaign if master.campaign is not None and not master.campaign.finished else None
        if unfinished is not None:
            print(f"campaign: recovering {unfinished.campaign} ({unfinished.phase}) from the journal in {args.nvm}, "
                  f"not starting {args.manifest}", flush=True)
        report = master.recover()
        if report is None:
            try:
                report = master.run(args.manifest)
            except CampaignRefused as refused:
                return _emit({"outcome": "refused", "reason": refused.reason, "detail": str(refused)}, args.report)
    return _emit(report.to_dict(), args.report)


def _emit(report: dict[str, object], path: Path | None) -> int:
    line = json.dumps(report, sort_keys=True)
    print(line, flush=True)
    if path is not None:
        try:
            path.write_text(line + "\n")
        except OSError as exc:
            raise ConfigError(f"--report: cannot write the report: {exc.strerror or exc}", file=str(path)) from None
    return EXIT_OK if report["outcome"] == "committed" else EXIT_ECU_FAILED

