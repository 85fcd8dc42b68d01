"""Runbooks as code: schema, loader and git sync, planner, executor, the shipped library."""
