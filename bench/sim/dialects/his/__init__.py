"""A HIS/Vector-style flash bootloader (``bootloader: his``): several logical blocks at their own
addresses, a fingerprint before any erase, a CRC-32 check the tester sends per block, zlib
downloads decoded on the ECU, no journal, and an application that starts only when it is
complete (``memory``, ``boot``, ``download``, ``server``; factory software in ``factory``)."""

from bench.sim.dialect import Mutant, SimDialect
from bench.sim.dialects.his.boot import HisBoot
from bench.sim.dialects.his.download import HisDownload
from bench.sim.dialects.his.factory import factory_program, load_factory, nvm_problems
from bench.sim.dialects.his.memory import BlockLayout, open_store
from bench.sim.dialects.his.server import HisCore

REFERENCE = Mutant("reference", "none: the reference bootloader", frozenset({"his"}),
                   boot=HisBoot, download=HisDownload)

HIS = SimDialect("his", layout=BlockLayout, store=open_store, reference=REFERENCE, core=HisCore,
                 load_factory=load_factory, factory_program=factory_program, nvm_problems=nvm_problems)
