"""Benchmarks, runnable alone (e.g. ``.venv/bin/python bench/events.py``)."""
