import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# json's C scanner recurses once per level and can overflow the C stack (a segfault,
# not a RecursionError) when a library has raised the recursion limit: refuse deep
# documents before parsing. No request of this API nests more than a few levels.
MAX_DEPTH = 32


class StrictJSONParser(JSONParser):
    """Parses JSON bodies and reports a bad one as malformed JSON (code 101)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        if _nesting_depth(raw) > MAX_DEPTH:
            raise ParseError(f"nested too deeply (more than {MAX_DEPTH} levels)")
        try:
            return json.loads(raw, parse_float=str, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(str(error)) from None


def _nesting_depth(raw: bytes) -> int:
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
