"""Microsoft Teams: the Bot Framework endpoint, Adaptive Cards, proactive incident cards."""
