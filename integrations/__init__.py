"""Clients of machines Lookout talks to (Prometheus, …)."""
