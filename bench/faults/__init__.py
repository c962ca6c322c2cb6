"""Fault injection: triggers (what happens on the bus, inside a virtual ECU, or a time) bound to
actions (power, brown-out, network faults), with a timeline of every injection. The fault kinds
a catalog names (``fault: power_cut``) are a registry in ``bench.faults.kinds``: one module per
kind, declaring its parameters and defaults, where it may strike, its severity and how it arms.

    faults.when(uds.transfer_data(block=37)).power_cut(ecu, off_for=2.0)
    faults.when(probe("program_page", 40)).power_cut(ecu)
    faults.when(random_moment(uds.request("RoutineControl", routine=0xFF00), 0.2, seed=7)).power_cut(ecu)
    faults.when(uds.request("RoutineControl", routine=0xFF00)).brown_out(ecu, volts=5.0, lasting=0.3)
"""

from bench.faults import uds
from bench.faults.injector import Arming, FaultInjector, Injection
from bench.faults.timeline import FaultTimeline, InjectionRecord
from bench.faults.triggers import (Trigger, after, at, last_transfer_block, middle_transfer_block, probe,
                                   random_moment, random_transfer_block)

__all__ = ["uds", "Arming", "FaultInjector", "Injection", "FaultTimeline", "InjectionRecord", "Trigger",
           "after", "at", "last_transfer_block", "middle_transfer_block", "probe", "random_moment",
           "random_transfer_block"]
