"""Horizon KB: a horizon-scanning knowledge base of emerging technologies and their crime risks."""

__version__ = "0.1.0"
