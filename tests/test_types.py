"""`make lint` runs mypy with the project's configuration (pyproject.toml [tool.mypy]):
these check that it does catch a type error, strictly where the configuration says so.

Each probe is checked in place of a real module (mypy --shadow-file), so it gets that
module's settings: chain.*, exchange.services.* and exchange.selectors.* strict, the rest
at the baseline. Small modules with few imports keep each run to a few seconds.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

UNTYPED_AND_WRONG = """
def untyped(value):
    return value


def wrong() -> int:
    return "one"
"""

# The django-stubs plugin knows a model's fields: Network.id is an int.
MODEL_FIELD = """
from exchange.models import Network


def network_key(network: Network) -> int:
    return network.id


def network_name(network: Network) -> str:
    return network.id
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def mypy_errors(module_path: str, source: str, tmp_path: Path, cache_dir: Path) -> list[str]:
    """The error lines mypy reports for `source` checked as the module at module_path."""
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache_dir),
            "--follow-imports",
            "silent",
            "--shadow-file",
            module_path,
            str(probe),
            module_path,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith(f"{module_path}:")]


def test_a_strict_module_refuses_an_untyped_function_and_a_wrong_return(tmp_path, cache_dir):
    errors = mypy_errors("chain/eip1559.py", UNTYPED_AND_WRONG, tmp_path, cache_dir)

    assert any("[no-untyped-def]" in line for line in errors), errors
    assert any("[return-value]" in line for line in errors), errors


def test_a_baseline_module_refuses_a_wrong_return_but_allows_an_untyped_function(
    tmp_path, cache_dir
):
    errors = mypy_errors("relayer/ports.py", UNTYPED_AND_WRONG, tmp_path, cache_dir)

    assert len(errors) == 1 and "[return-value]" in errors[0], errors


def test_model_fields_are_typed_by_the_django_plugin(tmp_path, cache_dir):
    errors = mypy_errors("exchange/services/operations.py", MODEL_FIELD, tmp_path, cache_dir)

    assert len(errors) == 1, errors
    assert 'got "int", expected "str"' in errors[0] and ":10:" in errors[0], errors
