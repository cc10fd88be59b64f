"""The communications admin: one module per subject, each registering its models.

outbox: messages, templates, contact preferences, opt-outs.
"""

from . import outbox

__all__ = ["outbox"]
