"""The settings parser: a bad value stops the process with a message naming the variable."""

import re
import runpy
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from relayer.env import env_bool, env_choice, env_int, env_list, env_str

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "relayer" / "settings.py"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" Yes ", True),
        ("ON", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_env_bool_without_the_variable_is_the_default(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", True) is True


@pytest.mark.parametrize("raw", ["maybe", "2", "truee", "y e s"])
def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_FLAG must be a boolean"):
        env_bool("SOME_FLAG", False)


def test_env_int_reads_an_integer_and_defaults_when_unset_or_empty(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", " 42 ")
    assert env_int("SOME_NUMBER", 7) == 42
    monkeypatch.setenv("SOME_NUMBER", "")
    assert env_int("SOME_NUMBER", 7) == 7
    monkeypatch.delenv("SOME_NUMBER")
    assert env_int("SOME_NUMBER", 7) == 7


@pytest.mark.parametrize("raw", ["ten", "1.5", "0x10", "1e3"])
def test_env_int_refuses_a_non_integer_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SOME_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_NUMBER must be an integer, got"):
        env_int("SOME_NUMBER", 7)


def test_env_int_refuses_a_value_below_its_minimum_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_NUMBER must be at least 1, got 0"):
        env_int("SOME_NUMBER", 7, minimum=1)


def test_env_str_treats_empty_as_unset(monkeypatch):
    monkeypatch.setenv("SOME_TEXT", "  ")
    assert env_str("SOME_TEXT", "fallback") == "fallback"
    monkeypatch.setenv("SOME_TEXT", " value ")
    assert env_str("SOME_TEXT", "fallback") == "value"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("SOME_LIST", " a.example, b.example ,,")
    assert env_list("SOME_LIST", ["x"]) == ["a.example", "b.example"]
    monkeypatch.delenv("SOME_LIST")
    assert env_list("SOME_LIST", ["x"]) == ["x"]


def test_env_choice_is_case_insensitive_and_refuses_the_rest(monkeypatch):
    monkeypatch.setenv("SOME_CHOICE", "warning")
    assert env_choice("SOME_CHOICE", "INFO", ["INFO", "WARNING"]) == "WARNING"
    monkeypatch.setenv("SOME_CHOICE", "LOUD")
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_CHOICE must be one of INFO, WARNING"):
        env_choice("SOME_CHOICE", "INFO", ["INFO", "WARNING"])


# The settings module itself, executed afresh under a given environment.


@pytest.fixture
def load_settings(monkeypatch):
    def load(**env: str) -> dict:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS_FILE))

    return load


def test_the_settings_load_under_the_test_environment(load_settings):
    loaded = load_settings(DEFAULT_NETWORK_ID="31337", API_MAX_PER_PAGE="1000")
    assert loaded["DEFAULT_NETWORK_ID"] == 31337
    assert loaded["API_MAX_PER_PAGE"] == 1000


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DEBUG": "sometimes"}, "DEBUG"),
        ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://user@host:notaport/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"DEFAULT_NETWORK_ID": "mainnet"}, "DEFAULT_NETWORK_ID"),
        ({"DEFAULT_NETWORK_ID": "0"}, "DEFAULT_NETWORK_ID"),
        ({"API_MAX_PER_PAGE": "lots"}, "API_MAX_PER_PAGE"),
        ({"API_MAX_PER_PAGE": "50"}, "API_MAX_PER_PAGE"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_setting_stops_the_process_naming_the_variable(load_settings, env, variable):
    with pytest.raises(ImproperlyConfigured, match=rf"^{variable} "):
        load_settings(**env)


def test_debug_without_a_secret_key_uses_a_development_key(load_settings):
    loaded = load_settings(DEBUG="true", SECRET_KEY="")
    assert loaded["SECRET_KEY"].startswith("insecure-development-key")


REPO = SETTINGS_FILE.parent.parent


def _variables_read_by_the_code() -> set[str]:
    pattern = re.compile(r'env_\w+\(\s*"([A-Z][A-Z0-9_]*)"')
    return {
        name
        for folder in ("relayer", "exchange", "chain")
        for path in (REPO / folder).rglob("*.py")
        for name in pattern.findall(path.read_text())
    }


def test_env_example_lists_every_variable_the_code_reads_exactly_once():
    lines = (REPO / ".env.example").read_text().splitlines()
    assigned = [
        re.match(r"#? ?([A-Z][A-Z0-9_]*)=", line).group(1)
        for line in lines
        if re.match(r"#? ?[A-Z][A-Z0-9_]*=", line)
    ]
    duplicated = {name for name in assigned if assigned.count(name) > 1}
    assert not duplicated
    assert _variables_read_by_the_code() - set(assigned) == set()


def test_no_tracked_file_holds_a_merge_conflict_marker():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    marker = re.compile(r"^(<<<<<<< |>>>>>>> |=======$)", re.M)
    offenders = [
        name
        for name in tracked
        if not name.endswith((".json", ".lock"))
        and (REPO / name).is_file()
        and marker.search((REPO / name).read_text(errors="ignore"))
    ]
    assert offenders == []
