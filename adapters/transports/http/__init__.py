"""REST transports: a partner's API read page by page or object by object, and orders
delivered to it by POST.

Partner APIs are rate limited, go down for maintenance and sometimes just fail, so these
transports pace their own requests, wait as long as the partner asks (within reason), and
retry passing faults with backoff; but they never retry what cannot get better (a wrong
key, a request the partner calls invalid), so a broken connector stops at its first
request instead of hammering the partner. Every outcome is one of the hub's error types,
so the engine decides mechanically what to do next.

- :mod:`.errors` what a partner's answer can mean, as hub errors.
- :mod:`.settings` the client's settings, declared once, and each transport's own.
- :mod:`.pacing` the client-side rate limiter and the reading of Retry-After.
- :mod:`.client` one request, paced and retried: what both transports share.
- :mod:`.pull` reading a feed page by page, or one object by key.
- :mod:`.post` delivering one rendered order by POST.
- :mod:`.from_spec` the transport a connectors.yaml entry describes (the entry point).

Credentials travel in headers and nowhere else: not in a repr, a log line or an error
message, and the transports never follow a redirect, so they never reach another host.
"""
