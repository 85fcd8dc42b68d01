"""The console: a local chat page served by Lookout itself (platform, JSON API, renderer, page)."""
