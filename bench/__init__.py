"""ota-hil-bench: validate OTA updates of ECUs on real and virtual HIL benches."""

__version__ = "0.1.0"
