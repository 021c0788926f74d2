"""The pasteable code blocks of the manual (docs/*.md) and the README, cut out by their
markers so the tests run them as written:

    <!-- example:NAME -->
    ```python
    ...
    ```
    <!-- /example:NAME -->

A block a reader would paste but no test can run (a `make bench`, a `docker compose up`)
says so instead, on the line before its fence: `<!-- not-run: why -->`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLE = re.compile(
    r"^<!-- example:(?P<name>[\w-]+) -->\n```(?P<language>\w+)\n(?P<code>.*?)^```\n"
    r"<!-- /example:(?P=name) -->",
    re.M | re.S,
)
LOCAL_API = 'API = "http://127.0.0.1:8000"'


@dataclass(frozen=True)
class Example:
    name: str
    language: str
    code: str
    page: Path

    def with_server(self, url: str) -> str:
        """The block with its API address swapped for a test server's; nothing else."""
        line = LOCAL_API if self.language == "python" else LOCAL_API.replace("API =", "const API =")
        assert line in self.code, f"{self.name}: no {line!r} line to point at the server"
        return self.code.replace(line, line.replace("http://127.0.0.1:8000", url))


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def examples() -> dict[str, Example]:
    found: dict[str, Example] = {}
    for page in pages():
        for match in EXAMPLE.finditer(page.read_text()):
            name = match["name"]
            assert name not in found, (
                f"example {name} is in {found[name].page if name in found else page} and {page}"
            )
            found[name] = Example(name, match["language"], match["code"], page)
    return found


def example(name: str) -> Example:
    found = examples()
    assert name in found, f"no <!-- example:{name} --> block in README.md or docs/"
    return found[name]
