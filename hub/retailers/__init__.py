"""The services retailers are served by: tenants and their API keys, their cases seen as
if no other tenant existed, CSV case imports (by API and drop folder), the normalised
feed with its signed cursors, and the webhooks signed per Standard Webhooks. The HTTP
routes over these are in ``hub.api``.
"""
