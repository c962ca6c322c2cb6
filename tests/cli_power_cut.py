"""``ota-bench`` with a power cut armed, as a second process of a test: ``python cli_power_cut.py
SERVICE NTH -- ARGS...`` runs ``ota-bench ARGS`` (a ``flash``) and cuts the flashed ECU's supply
(left off) when the NTH request of UDS service SERVICE reaches it (``bench.faults.uds``).
The bench's virtual ECUs keep their flash in ``--workdir``, so a later ``ota-bench flash`` sees
what the cut left."""

from __future__ import annotations

import sys

from bench.cli import flash, main
from bench.faults import FaultInjector, uds
from bench.rig import Bench, EcuHandle


def cutting_bench(service: str, nth: int) -> type[Bench]:
    class CuttingBench(Bench):
        """The bench ``ota-bench flash`` brings up, with the cut armed on the first ECU it reaches."""

        injector: FaultInjector | None = None

        def ecu(self, name: str) -> EcuHandle:
            handle = super().ecu(name)
            if self.injector is None:
                self.injector = FaultInjector(self)
                self.injector.when(uds.request(service, nth=nth)).power_cut(handle)
            return handle

    return CuttingBench


if __name__ == "__main__":
    service, nth, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: cli_power_cut.py SERVICE NTH -- ARGS..."
    flash.Bench = cutting_bench(service, int(nth))  # type: ignore[misc]
    sys.exit(main(args))
