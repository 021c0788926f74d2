"""The domain's refusals: what a use case raises when it will not do what it was asked.

Services and selectors raise these; they know nothing of HTTP. The API maps each to the
spec's code and HTTP status in one place (exchange/api/errors.py, exception_handler), and
the stream consumer to its error frame. A reason is shown to the client word for word.

FieldCode names what is wrong with one field; its values are the spec's validation codes
(1000-1006), which the HTTP API and the stream share.
"""

from enum import IntEnum


class FieldCode(IntEnum):
    REQUIRED = 1000
    INCORRECT_FORMAT = 1001
    INVALID_ADDRESS = 1002
    ADDRESS_NOT_SUPPORTED = 1003
    OUT_OF_RANGE = 1004
    INVALID_SIGNATURE = 1005
    UNSUPPORTED_OPTION = 1006


class DomainError(Exception):
    """A use case refused; `reason` says why, for the client."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Invalid(DomainError):
    """The request as a whole is invalid (no single field to blame)."""


class FieldError(Invalid):
    """One field of the request is wrong: `field` as the client named it."""

    def __init__(self, field: str, code: FieldCode, reason: str):
        super().__init__(reason)
        self.field = field
        self.code = code


class OrderSubmissionDisabled(DomainError):
    """Writes are switched off: the network's kill switch, the market's status, a frozen
    account, maintenance."""


class NotFound(DomainError):
    """The record the request names does not exist (on that network)."""


class Unavailable(DomainError):
    """Something the use case needs (the node) did not answer; the client may retry."""
