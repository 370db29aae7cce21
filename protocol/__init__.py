"""The wire contract of Siaga 112, version 1.

Topic names, payload models, the category catalogue and the codec that every
program (unit agent, gateway, admin tools) speaks. Only pydantic and the
standard library are needed, so a Pi imports it cheaply.
"""

from protocol.errors import BadTopic, PayloadError, ProtocolError

PROTOCOL_VERSION = 1
#: additive revision of v1: new optional fields only (docs/protocol.md, "Versioning")
CONTRACT_REVISION = 3

__all__ = ["CONTRACT_REVISION", "PROTOCOL_VERSION", "BadTopic", "PayloadError", "ProtocolError"]
