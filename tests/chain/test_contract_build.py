"""The committed ABI and bytecode are what the pinned solc makes of the committed sources."""

import json
import subprocess
from pathlib import Path

from chain.client import BUILD_DIR

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_committed_artifacts_are_a_fresh_build_of_the_sources(tmp_path):
    subprocess.run(
        ["node", str(ROOT / "chain" / "contracts" / "build.js"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    built = sorted(path.name for path in tmp_path.glob("*.json"))
    committed = sorted(path.name for path in BUILD_DIR.glob("*.json"))
    assert built == committed
    for name in built:
        fresh = json.loads((tmp_path / name).read_text())
        assert fresh == json.loads((BUILD_DIR / name).read_text()), (
            f"{name} is stale: run `make contracts` and commit chain/contracts/build/"
        )


def test_the_exchange_abi_has_the_interface_the_relayer_uses():
    abi = json.loads((BUILD_DIR / "Exchange.json").read_text())["abi"]
    names = {item.get("name") for item in abi}
    assert {
        "deposit",
        "depositToken",
        "balanceOf",
        "adminWithdraw",
        "withdraw",
        "trade",
        "withdrawn",
        "traded",
        "orderFills",
        "lastActiveBlock",
        "setAdmin",
        "setOwner",
        "setFeeAccount",
        "Deposit",
        "Withdraw",
        "Trade",
    } <= names
