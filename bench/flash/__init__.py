"""The tester side of reprogramming (ISO 14229 flash sequence), with a timeline of every step."""

from bench.flash.diagnostics import EcuDiagnostics
from bench.flash.flasher import Flasher, FlashResult
from bench.flash.timeline import Step, Timeline

__all__ = ["EcuDiagnostics", "Flasher", "FlashResult", "Step", "Timeline"]
