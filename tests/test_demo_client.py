"""relayer/demo_client.py without a running demo: exact unit conversion and clear refusals."""

import io
import json
import os
import socket
import subprocess

import pytest

from chain.anvil import start_anvil, stop_anvil
from relayer import demo_client
from relayer.demo import CHAIN_ID, STATE_FILE, DemoConfig
from relayer.demo_client import ClientError, DemoClient, Target, base_units, locate, whole


def test_whole_tokens_become_exact_base_units():
    assert base_units("1.5", 18) == 15 * 10**17
    assert base_units("0.000001", 6) == 1
    assert base_units("1000000", 6) == 10**12
    assert whole(base_units("0.03992", 18), 18) == "0.03992"
    assert whole(10**24, 18) == "1000000"


@pytest.mark.parametrize("amount", ["0.0000001", "1e-7"])
def test_it_refuses_more_decimal_places_than_the_token_has(amount):
    with pytest.raises(ClientError, match="more than 6 decimal places"):
        base_units(amount, 6)


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "NaN", "Infinity", ""])
def test_it_refuses_an_amount_that_is_not_a_positive_number(amount):
    with pytest.raises(ClientError):
        base_units(amount, 18)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


def _state(var_dir, pid: int, port: int, exchange: str = "0x" + "ab" * 20) -> None:
    var_dir.mkdir(exist_ok=True)
    (var_dir / STATE_FILE).write_text(
        json.dumps(
            {
                "pid": pid,
                "api": f"http://127.0.0.1:{port}",
                "rpc": f"http://127.0.0.1:{_closed_port()}",
                "exchange": exchange,
            }
        )
    )


def test_without_a_running_demo_it_says_so_instead_of_a_trace(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert demo_client.main(["balances", "1"]) == 1
    error = capsys.readouterr().err
    assert "no demo is running" in error and str(tmp_path / STATE_FILE) in error


def test_a_demo_that_stopped_without_clearing_its_file_is_not_taken_for_running(
    tmp_path, monkeypatch, capsys
):
    ended = subprocess.Popen(["true"])
    ended.wait()
    _state(tmp_path, ended.pid, _closed_port())
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert demo_client.main(["balances", "1"]) == 1
    assert f"(pid {ended.pid}) is not running" in capsys.readouterr().err


def test_it_goes_where_the_state_file_says_not_to_the_default_port(tmp_path, monkeypatch, capsys):
    port = _closed_port()
    _state(tmp_path, os.getpid(), port)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert demo_client.main(["balances", "1"]) == 1
    assert f"no exchange at http://127.0.0.1:{port}" in capsys.readouterr().err


def test_api_and_rpc_flags_name_another_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    target = locate("http://127.0.0.1:8500/", "http://127.0.0.1:9045")
    assert (target.api_url, target.rpc_url, target.exchange) == (
        "http://127.0.0.1:8500",
        "http://127.0.0.1:9045",
        None,
    )


def test_it_sends_nothing_to_a_chain_that_is_not_the_demos(tmp_path):
    """A node of another chain id, a contract address with no code there, or an API naming
    another contract than the demo's state file: refused before any transaction."""
    other = start_anvil(chain_id=CHAIN_ID + 1)
    try:
        client = DemoClient(Target("http://127.0.0.1:1", other.rpc_url), out=io.StringIO())
        client._contract = "0x" + "ab" * 20
        with pytest.raises(ClientError, match=f"chain id {CHAIN_ID + 1}, not the demo's"):
            client.chain()
    finally:
        stop_anvil(other)
    same = start_anvil()
    try:
        client = DemoClient(Target("http://127.0.0.1:1", same.rpc_url), out=io.StringIO())
        client._contract = "0x" + "ab" * 20
        with pytest.raises(ClientError, match="no contract at 0xabab"):
            client.chain()
        demo = Target("http://127.0.0.1:1", same.rpc_url, exchange="0x" + "cd" * 20)
        client = DemoClient(demo, out=io.StringIO())
        client._contract = "0x" + "ab" * 20
        with pytest.raises(ClientError, match="not the demo's 0xcdcd"):
            client.chain()
    finally:
        stop_anvil(same)


def test_it_only_knows_the_demo_accounts():
    with pytest.raises(SystemExit) as exit_:
        demo_client.parser().parse_args(["balances", "7"])
    assert exit_.value.code == 2


def test_an_unknown_token_names_the_listed_ones():
    client = DemoClient(DemoConfig.from_env({}), out=io.StringIO())
    client._tokens = [{"symbol": "ETH", "address": "0x" + "00" * 20, "decimals": "18"}]
    with pytest.raises(ClientError, match=r"no token 'DOGE' on the exchange \(it lists ETH\)"):
        client.token("DOGE")
