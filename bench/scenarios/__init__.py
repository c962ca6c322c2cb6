"""Scenarios and the oracles that judge their outcome."""
