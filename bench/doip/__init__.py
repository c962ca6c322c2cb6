"""A virtual DoIP gateway (ISO 13400-2) on loopback, routing diagnostic messages to CAN ECUs."""

from bench.doip.gateway import DoipGateway
from bench.doip.routes import CanRoute, NodeRoute

__all__ = ["CanRoute", "DoipGateway", "NodeRoute"]
