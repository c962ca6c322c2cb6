"""The CAN gateway between the tester and the ECUs: forwards frames and injects network faults."""

from bench.gateway.bridge import Gateway, forward_copy
from bench.gateway.faults import DIRECTIONS, REORDER_HOLD, Direction, FaultHandle, FaultPipeline, GatewayEvent

__all__ = ["DIRECTIONS", "REORDER_HOLD", "Direction", "FaultHandle", "FaultPipeline", "Gateway", "GatewayEvent",
           "forward_copy"]
