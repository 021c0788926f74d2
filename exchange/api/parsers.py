import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """Parses JSON bodies and reports a bad one as malformed JSON (code 101)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw, parse_float=str, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(str(error)) from None
        except RecursionError:
            raise ParseError("nested too deeply") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
