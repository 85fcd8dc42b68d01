"""Work beside the requests: ingestion, the notifier and its tracked messages, runbook runs,
live blast-radius trackers, and the background pass they share."""
