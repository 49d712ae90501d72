"""Delivery: each department's spend feed, read as pages, as Server-Sent Events, or posted to its
webhooks by the delivery loop, signed and retried."""
