"""Project subclasses of flask-smorest's Api, Blueprint and Schema.

One place to customise the framework: the error envelope, the device-bound
security scheme, unknown-field rejection.
"""

from server.api.base import Api, Blueprint, IntId, Schema

__all__ = ["Api", "Blueprint", "IntId", "Schema"]
