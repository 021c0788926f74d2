"""Gas per settled trade and per paid withdrawal, by signature type, and the cost of a typed
digest and recovery in Python next to the spec's (docs/signing-eip712.md, "Cost").

    .venv/bin/python -m benchmarks.signature_gas

Starts its own anvil (a free port), deploys the Exchange and a token, and settles the same
ask twice per signature scheme from the same state (the first fill writes fresh balance
slots, the second only changes them): 100 TST for 1 ETH, fills of 0.1 ETH, a maker fee of
0.001 ETH, taker and gas fees of 0.01 TST each. Prints figures; asserts nothing.
"""

import timeit

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from chain import hashing, typed_data
from chain.anvil import deploy, start_anvil, stop_anvil
from chain.client import ETHER
from chain.signatures import recover_signer, recover_typed_signer

ONE = 10**18
ORDER = {"give_amount": 100 * ONE, "take_amount": ONE, "expiry_ms": 1_900_000_000_000}
ORDER_NONCE = 1_700_000_000_000


def _sign(account, scheme: str, spec_hash: str, struct: str, message: dict, domain: dict) -> str:
    if scheme == typed_data.EIP712:
        document = typed_data.typed_data(struct, message, **domain)
        return "0x" + bytes(account.sign_typed_data(full_message=document).signature).hex()
    return "0x" + bytes(account.sign_message(encode_defunct(hexstr=spec_hash)).signature).hex()


def _trade_fields(deployment, maker, taker, scheme: str, order_nonce: int, trade_nonce: int):
    contract, token = deployment.exchange, deployment.tst
    domain = {"chain_id": deployment.node.chain_id, "contract": contract}
    order_hash = hashing.order_hash(
        contract=contract,
        account=maker.address,
        give_token=token,
        give_amount=ORDER["give_amount"],
        take_token=ETHER,
        take_amount=ORDER["take_amount"],
        nonce=order_nonce,
        expiry_ms=ORDER["expiry_ms"],
    )
    amount = ONE // 10
    trade_hash = hashing.trade_hash(
        contract=contract,
        order_hash=order_hash,
        amount=amount,
        account=taker.address,
        nonce=trade_nonce,
    )
    order_message = {
        "contractAddress": contract,
        "account": maker.address,
        "giveTokenAddress": token,
        "giveAmount": ORDER["give_amount"],
        "takeTokenAddress": ETHER,
        "takeAmount": ORDER["take_amount"],
        "nonce": order_nonce,
        "expiryTimestampInMilliseconds": ORDER["expiry_ms"],
    }
    trade_message = {
        "contractAddress": contract,
        "orderHash": order_hash,
        "amount": amount,
        "account": taker.address,
        "nonce": trade_nonce,
    }
    return {
        "maker": maker.address,
        "give_token": token,
        "give_amount": ORDER["give_amount"],
        "take_token": ETHER,
        "take_amount": ORDER["take_amount"],
        "order_nonce": order_nonce,
        "expiry_ms": ORDER["expiry_ms"],
        "maker_signature": _sign(maker, scheme, order_hash, "Order", order_message, domain),
        "maker_signature_type": scheme,
        "taker": taker.address,
        "amount": amount,
        "trade_nonce": trade_nonce,
        "taker_signature": _sign(taker, scheme, trade_hash, "Trade", trade_message, domain),
        "taker_signature_type": scheme,
        "maker_fee": ONE // 1000,
        "taker_fee": ONE // 100,
        "gas_fee": ONE // 100,
    }


def _withdraw_gas(deployment, user, scheme: str, nonce: int) -> int:
    contract = deployment.exchange
    fields = {"token": ETHER, "amount": ONE // 100, "user": user.address, "nonce": nonce}
    spec_hash = hashing.withdraw_hash(
        contract=contract, token=ETHER, amount=ONE // 100, account=user.address, nonce=nonce
    )
    message = {
        "contractAddress": contract,
        "tokenAddress": ETHER,
        "amount": ONE // 100,
        "account": user.address,
        "nonce": nonce,
    }
    domain = {"chain_id": deployment.node.chain_id, "contract": contract}
    signature = _sign(user, scheme, spec_hash, "Withdraw", message, domain)
    tx = deployment.client.send_admin_withdraw(
        **fields, signature=signature, fee=0, signature_type=scheme
    )
    return deployment.client.wait_for_receipt(tx).gas_used


def chain_gas() -> list[tuple[str, str, int]]:
    node = start_anvil()
    try:
        deployment = deploy(node)
        client = deployment.client
        maker_dev, taker_dev = deployment.users[0], deployment.users[1]
        maker, taker = Account.from_key(maker_dev.key), Account.from_key(taker_dev.key)
        deployed = node.snapshot()
        rows = []
        for scheme in typed_data.SIGNATURE_TYPES:
            # The same trades from the same state, so the first fill writes fresh slots.
            node.revert(deployed)
            deployed = node.snapshot()
            client.transact("TestToken", deployment.tst, "approve", deployment.exchange, 1000 * ONE, private_key=maker_dev.key)  # fmt: skip
            client.transact("Exchange", deployment.exchange, "depositToken", deployment.tst, 1000 * ONE, private_key=maker_dev.key)  # fmt: skip
            client.transact("Exchange", deployment.exchange, "deposit", value=10 * ONE, private_key=taker_dev.key)  # fmt: skip
            for fill, label in enumerate(("first fill", "next fill")):
                fields = _trade_fields(
                    deployment, maker, taker, scheme, ORDER_NONCE, ORDER_NONCE + 1 + fill
                )
                receipt = client.wait_for_receipt(client.send_trade(**fields))
                rows.append((f"trade() {label}", scheme, receipt.gas_used))
            rows.append(("adminWithdraw()", scheme, _withdraw_gas(deployment, taker, scheme, 7)))
        return rows
    finally:
        stop_anvil(node)


def python_cost(repeat: int = 5000) -> list[tuple[str, float]]:
    """Microseconds per call: the spec's hash and recovery, the typed digest and recovery,
    and eth-account's typed-data encoder for comparison."""
    account = Account.from_key("0x" + "11" * 32)
    contract = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    fields = {
        "account": account.address.lower(),
        "give_token": ETHER,
        "give_amount": 10**16,
        "take_token": "0xa2b31dacf30a9c50ca473337c01d8a201ae33e32",
        "take_amount": 2 * 10**16,
        "nonce": 1_700_000_000_000,
        "expiry_ms": 1_900_000_000_000,
    }
    spec_hash = hashing.order_hash(contract=contract, **fields)
    digest = typed_data.order_digest(chain_id=31337, contract=contract, **fields)
    spec_signature = _sign(account, typed_data.ETH_SIGN, spec_hash, "", {}, {})
    document = typed_data.typed_data(
        "Order",
        {
            "contractAddress": contract,
            "account": fields["account"],
            "giveTokenAddress": fields["give_token"],
            "giveAmount": fields["give_amount"],
            "takeTokenAddress": fields["take_token"],
            "takeAmount": fields["take_amount"],
            "nonce": fields["nonce"],
            "expiryTimestampInMilliseconds": fields["expiry_ms"],
        },
        chain_id=31337,
        contract=contract,
    )
    typed_signature = "0x" + bytes(account.sign_typed_data(full_message=document).signature).hex()
    cases = [
        ("orderHash (spec)", lambda: hashing.order_hash(contract=contract, **fields)),
        ("recover eth_sign", lambda: recover_signer(spec_hash, spec_signature)),
        (
            "Order digest (EIP-712, by hand)",
            lambda: typed_data.order_digest(chain_id=31337, contract=contract, **fields),
        ),
        ("recover EIP-712", lambda: recover_typed_signer(digest, typed_signature)),
        ("eth-account encode_typed_data", lambda: encode_typed_data(full_message=document)),
    ]
    scale = repeat // 10
    return [
        (name, min(timeit.repeat(case, number=scale, repeat=3)) / scale * 1e6)
        for name, case in cases
    ]


def main() -> None:
    print("gas (anvil, cancun):")
    for what, scheme, gas in chain_gas():
        print(f"  {what:<22} {scheme:<9} {gas:>9,}")
    print("Python, microseconds per call (best of 3):")
    for name, micros in python_cost():
        print(f"  {name:<32} {micros:8.1f}")


if __name__ == "__main__":
    main()
