"""The store: the only package that touches the database. Tables and their Alembic
migrations, the unit of work (``Database.transaction()``), and query functions by
aggregate (events, cases and their links, the raw archive, the feed, tenants, the
outbox, runs and rejects, leases and cursors, service levels, parcels, counts, console
sessions), each module named for what it holds. Services call these functions with the
unit of work's ``Connection``; nothing outside this package imports SQLAlchemy or the
tables.
"""
