"""Thin wrappers over python-can, can-isotp and udsoncan: open what the bench file describes."""
