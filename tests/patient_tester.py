"""A bench whose tester waits a ΔP2 of 1 s for every answer.

For tests that read what a clean flash looks like (its steps, its transcript on the bus): on a
loaded 2-core host a virtual ECU's answer can come later than the virtual bench's 0.15 s ΔP2, and
the block the tester then sends again would change what these tests read. The tester's timing and
its retries have tests of their own, on the bench as it is.
"""

from __future__ import annotations

from bench.config import BenchConfig

PATIENT_DELTA_P2 = 1.0


def patient_tester(config: BenchConfig) -> BenchConfig:
    profiles = {name: profile.model_copy(update={"timing": profile.timing.model_copy(
                    update={"network_margin": PATIENT_DELTA_P2})})
                for name, profile in config.profiles.items()}
    return config.model_copy(update={"profiles": profiles})
