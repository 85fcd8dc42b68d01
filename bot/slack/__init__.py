"""Slack: Bolt adapter (HTTP and Socket Mode), Block Kit rendering, the notifier platform."""
