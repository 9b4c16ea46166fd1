"""The mapping engine: declarative partner files turned into pure record <-> event functions.

The files themselves live in ``mappings/``; this package reads, validates and applies
them. It never imports a partner and does no I/O beyond reading the mapping file.
"""
