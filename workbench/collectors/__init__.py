"""Collectors: one module per source, each with `is_available()`, `start(context)` and `stop()`."""
