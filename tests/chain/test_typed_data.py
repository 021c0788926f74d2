"""EIP-712: exchange/protocol/typed_data.py, eth-account, ethers and the contract agree bit for bit on
every typed digest (tests/vectors/eip712-*.json), and a signature for one domain is
nobody's signature on another."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.protocol import typed_data
from exchange.protocol.signatures import recover_typed_signer

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
ROOT = VECTORS_DIR.parents[1]
ETHERS = json.loads((VECTORS_DIR / "eip712-ethers.json").read_text())["vectors"]
ETH_ACCOUNT = json.loads((VECTORS_DIR / "eip712-eth-account.json").read_text())["vectors"]
VECTORS = ETHERS + ETH_ACCOUNT
LOCAL_CHAIN = 31337

TYPE_STRINGS = {
    "EIP712Domain": "EIP712Domain(string name,string version,uint256 chainId,"
    "address verifyingContract)",
    "Order": "Order(address contractAddress,address account,address giveTokenAddress,"
    "uint256 giveAmount,address takeTokenAddress,uint256 takeAmount,uint256 nonce,"
    "uint256 expiryTimestampInMilliseconds)",
    "Cancel": "Cancel(bytes32 orderHash,uint256 nonce)",
    "Trade": "Trade(address contractAddress,bytes32 orderHash,uint256 amount,address account,"
    "uint256 nonce)",
    "Withdraw": "Withdraw(address contractAddress,address tokenAddress,uint256 amount,"
    "address account,uint256 nonce)",
}


def ids(vector: dict) -> str:
    domain = vector["domain"]
    return f"{vector['primaryType']}-{domain['chainId']}-{vector['digest'][:10]}"


def python_digest(vector: dict) -> str:
    return typed_data.typed_digest(
        vector["primaryType"],
        vector["message"],
        chain_id=vector["domain"]["chainId"],
        contract=vector["domain"]["verifyingContract"],
    )


def eth_account_digest(name: str, message: dict, chain_id: int, contract: str) -> str:
    signable = encode_typed_data(
        full_message=typed_data.typed_data(name, message, chain_id=chain_id, contract=contract)
    )
    return "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()


def test_the_type_strings_are_the_documented_ones():
    assert {name: typed_data.type_string(name) for name in TYPE_STRINGS} == TYPE_STRINGS
    documented = (ROOT / "docs" / "signing-eip712.md").read_text()
    for type_string in TYPE_STRINGS.values():
        assert type_string in documented


def test_the_vectors_cover_every_struct_and_three_domains():
    assert {vector["primaryType"] for vector in ETHERS} == set(typed_data.STRUCTS)
    assert {vector["primaryType"] for vector in ETH_ACCOUNT} == set(typed_data.STRUCTS)
    domains = {(v["domain"]["chainId"], v["domain"]["verifyingContract"]) for v in ETHERS}
    assert len(domains) == 3


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_python_digests_equal_the_generators_digests(vector):
    assert python_digest(vector) == vector["digest"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_every_vector_signature_recovers_to_its_signer(vector):
    assert recover_typed_signer(vector["digest"], vector["signature"]) == vector["address"]


@pytest.mark.parametrize("vector", ETHERS, ids=ids)
def test_eth_account_signs_exactly_as_ethers(vector):
    # Both sign deterministically (RFC 6979) with low s: the bytes must be identical.
    document = typed_data.typed_data(
        vector["primaryType"],
        vector["message"],
        chain_id=vector["domain"]["chainId"],
        contract=vector["domain"]["verifyingContract"],
    )
    signed = Account.from_key(vector["privateKey"]).sign_typed_data(full_message=document)
    assert "0x" + bytes(signed.signature).hex() == vector["signature"]


addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())
uint256s = st.one_of(
    st.integers(min_value=0, max_value=2**256 - 1), st.sampled_from([0, 1, 2**256 - 1])
)
_STRATEGY = {"address": addresses, "bytes32": hashes, "uint256": uint256s}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    name=st.sampled_from(sorted(typed_data.STRUCTS)),
    chain_id=st.integers(min_value=1, max_value=2**64),
    contract=addresses,
)
def test_the_hand_packed_digest_equals_eth_accounts_encoder(data, name, chain_id, contract):
    message = {
        field: data.draw(_STRATEGY[kind], label=field) for field, kind in typed_data.STRUCTS[name]
    }
    assert typed_data.typed_digest(
        name, message, chain_id=chain_id, contract=contract
    ) == eth_account_digest(name, message, chain_id, contract)


def _node_with_ethers():
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing: run `make install`")


def test_ethers_checks_the_eth_account_vectors():
    _node_with_ethers()
    subprocess.run(
        ["node", "tests/vectors/generate-eip712.js", "--check", "tests/vectors/eip712-eth-account.json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def test_the_checked_in_ethers_vectors_are_what_the_script_generates(tmp_path):
    _node_with_ethers()
    script = tmp_path / "generate-eip712.js"
    script.write_text(
        (VECTORS_DIR / "generate-eip712.js")
        .read_text()
        .replace(
            'require("ethers")', f"require({json.dumps(str(ROOT / 'node_modules' / 'ethers'))})"
        )
    )
    subprocess.run(["node", str(script)], check=True, capture_output=True, timeout=60)
    assert json.loads((tmp_path / "eip712-ethers.json").read_text())["vectors"] == ETHERS


def test_the_checked_in_eth_account_vectors_are_what_the_script_generates():
    sys.path.insert(0, str(VECTORS_DIR))
    try:
        # The vectors' script, imported from VECTORS_DIR put on sys.path just above.
        import generate_eip712_eth_account as generator  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(VECTORS_DIR))
    assert generator.vectors() == ETH_ACCOUNT


# ---- the contract (anvil) ----


def _contract_digest(call, vector: dict) -> str:
    message = vector["message"]
    if vector["primaryType"] == "Order":
        return call(
            "orderDigest",
            message["account"],
            message["giveTokenAddress"],
            int(message["giveAmount"]),
            message["takeTokenAddress"],
            int(message["takeAmount"]),
            int(message["nonce"]),
            int(message["expiryTimestampInMilliseconds"]),
        )
    if vector["primaryType"] == "Cancel":
        return call("cancelDigest", bytes.fromhex(message["orderHash"][2:]), int(message["nonce"]))
    if vector["primaryType"] == "Trade":
        return call(
            "tradeDigest",
            bytes.fromhex(message["orderHash"][2:]),
            int(message["amount"]),
            message["account"],
            int(message["nonce"]),
        )
    return call(
        "withdrawDigest",
        message["tokenAddress"],
        int(message["amount"]),
        message["account"],
        int(message["nonce"]),
    )


def _vrs(signature: str) -> tuple[int, bytes, bytes]:
    raw = bytes.fromhex(signature[2:])
    return raw[64], raw[:32], raw[32:64]


@pytest.fixture
def exchange_at(deployment):
    """exchange_at(address): a call function for the Exchange's code put at `address`
    (anvil_setCode; the vectors name their own verifyingContract)."""
    code = deployment.node.rpc("eth_getCode", [deployment.exchange, "latest"])

    def at(address: str):
        deployment.node.rpc("anvil_setCode", [address, code])
        return lambda function, *args: deployment.client.call("Exchange", address, function, *args)

    return at


LOCAL_VECTORS = [v for v in VECTORS if v["domain"]["chainId"] == LOCAL_CHAIN]


def test_the_contract_computes_every_local_vectors_digest_and_signer(exchange_at):
    assert len(LOCAL_VECTORS) >= 20
    for vector in LOCAL_VECTORS:
        call = exchange_at(vector["domain"]["verifyingContract"])
        assert _contract_digest(call, vector) == vector["digest"], ids(vector)
        recovered = call("recoverTypedSigner", *_vrs_args(vector))
        assert recovered.lower() == vector["address"], ids(vector)


def _vrs_args(vector: dict) -> tuple:
    v, r, s = _vrs(vector["signature"])
    return bytes.fromhex(vector["digest"][2:]), v, r, s


def test_the_contracts_domain_separator_is_pythons(exchange_at, deployment):
    call = exchange_at(deployment.exchange)
    expected = typed_data.domain_separator(chain_id=LOCAL_CHAIN, contract=deployment.exchange)
    assert call("domainSeparator") == "0x" + expected.hex()


@pytest.mark.parametrize(
    "foreign",
    [v for v in ETHERS if v["domain"]["chainId"] != LOCAL_CHAIN]
    + [
        v
        for v in ETHERS
        if v["domain"]["chainId"] == LOCAL_CHAIN
        and v["domain"]["verifyingContract"] != "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    ],
    ids=ids,
)
def test_a_signature_for_another_chain_or_contract_is_nobodys_here(exchange_at, foreign):
    """The same message, signed for chain 1 or for another contract, recovers on the local
    contract (chain 31337, 0x5fbd…) to someone other than its signer."""
    local = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    call = exchange_at(local)
    message = {**foreign["message"]}
    if "contractAddress" in message:
        message["contractAddress"] = local
    here = {**foreign, "message": message, "domain": {**foreign["domain"], "chainId": LOCAL_CHAIN}}
    here["domain"]["verifyingContract"] = local
    digest = _contract_digest(call, here)
    assert digest == python_digest(here) != foreign["digest"]
    v, r, s = _vrs(foreign["signature"])
    recovered = call("recoverTypedSigner", bytes.fromhex(digest[2:]), v, r, s).lower()
    assert recovered != foreign["address"]
    assert recover_typed_signer(digest, foreign["signature"]) != foreign["address"]
