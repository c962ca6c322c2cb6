"""The bootloader dialects of the virtual ECU (``bench.sim.dialect.SIM_DIALECTS`` names them):
``bench`` (the bench's own single-bank and A/B bootloaders) and ``his`` (HIS/Vector-style)."""
