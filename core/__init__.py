"""Pure domain logic, no I/O: alerts, grouping, root cause, topology, blast radius, wording."""
