"""Service levels: each step of a case against its contract deadline and the legal rule.

``levels`` holds the contract table and the 30-day legal rule, ``calendar`` the French
business days, ``compute`` the pure function from a case's events to its steps; ``store``
reads them from the database and ``publish`` tells the retailer when a step breaches.
"""
