"""The store: the only package that touches the database. Tables and their Alembic
migrations, the unit of work (``Database.transaction()``), and query functions by
aggregate (cases and their links, events, the raw archive, connector state, parts
orders, parties, sessions). Services call these functions with the unit of work's
``Connection``; nothing outside this package imports SQLAlchemy or the tables.
"""
