"""JSON bodies, bounded: a nesting depth and a size every reader of a request body keeps
(the DRF parser and the rate limiter's account peek), so that no body is a 500."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# json's C scanner recurses once per level: past the interpreter's recursion limit it raises
# RecursionError (not a ValueError), and when a library has raised that limit it can overflow
# the C stack (a segfault). Deep documents are refused before parsing. No request of this
# API nests more than a few levels.
MAX_DEPTH = 32


class BodyRefused(ValueError):
    """A body refused before or while parsing: too deep, too big, or not JSON."""


def json_loads_bounded(raw: bytes | str, **kwargs):
    """json.loads for request bodies: BodyRefused (a ValueError) for a body over
    API_MAX_BODY_BYTES, nested more than MAX_DEPTH levels, or not JSON; never a
    RecursionError."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > settings.API_MAX_BODY_BYTES:
        raise BodyRefused(f"body over {settings.API_MAX_BODY_BYTES} bytes")
    if nesting_depth(raw) > MAX_DEPTH:
        raise BodyRefused(f"nested too deeply (more than {MAX_DEPTH} levels)")
    try:
        return json.loads(raw, **kwargs)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BodyRefused(str(error)) from None


class StrictJSONParser(JSONParser):
    """Parses JSON bodies and reports a bad one as malformed JSON (code 101)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            return json_loads_bounded(raw, parse_float=str, parse_constant=_refuse_constant)
        except BodyRefused as error:
            raise ParseError(str(error)) from None


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings; cheap when brackets are few."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
