"""relayer/demo_client.py without a running demo: exact unit conversion and clear refusals."""

import io
import socket

import pytest

from relayer import demo_client
from relayer.demo import DemoConfig
from relayer.demo_client import ClientError, DemoClient, base_units, whole


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


def test_without_a_running_demo_it_says_so_instead_of_a_trace(tmp_path, monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("DEMO_HTTP_PORT", str(port))
    assert demo_client.main(["balances", "1"]) == 1
    assert "is `make run` running?" in capsys.readouterr().err


def test_it_only_knows_the_demo_accounts():
    with pytest.raises(SystemExit) as exit_:
        demo_client.parser().parse_args(["balances", "7"])
    assert exit_.value.code == 2


def test_an_unknown_token_names_the_listed_ones():
    client = DemoClient(DemoConfig.from_env({}), out=io.StringIO())
    client._tokens = [{"symbol": "ETH", "address": "0x" + "00" * 20, "decimals": "18"}]
    with pytest.raises(ClientError, match=r"no token 'DOGE' on the exchange \(it lists ETH\)"):
        client.token("DOGE")
