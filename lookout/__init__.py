"""Lookout: a ChatOps-first SRE assistant."""

__version__ = "0.1.0"
