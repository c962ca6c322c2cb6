"""The bench description (layer 1): YAML in, validated models out.

    from bench.config import load_bench
    bench = load_bench("fixtures/benches/virtual.yaml")
    bench.ecus["bms"].request_id   # 0x7E1
"""

from bench.config.key_functions import resolve_key_function, resolve_security_key
from bench.config.loader import load_bench
from bench.config.models import (
    BenchConfig,
    BusConfig,
    DidIds,
    EcuConfig,
    EcuProfile,
    MemoryLayout,
    RoutineIds,
    SecurityConfig,
    SerialConfig,
    Timing,
    VirtualEcuConfig,
)
from bench.config.power_models import PowerConfig

__all__ = [
    "BenchConfig",
    "BusConfig",
    "DidIds",
    "EcuConfig",
    "EcuProfile",
    "MemoryLayout",
    "PowerConfig",
    "RoutineIds",
    "SecurityConfig",
    "SerialConfig",
    "Timing",
    "VirtualEcuConfig",
    "load_bench",
    "resolve_key_function",
    "resolve_security_key",
]
