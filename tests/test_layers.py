"""The layer contracts (pyproject.toml [tool.importlinter], docs/architecture.md "Layers"):
they hold on this tree, each breaks on a deliberately wrong import in a copy of it, and
every module of exchange and chain stands in a layer of its app's contract."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("benchmarks", "relayer", "exchange", "chain")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports over the packages in `tree` (first on the path, so a copy is read,
    not the installed checkout)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def copy_of_the_tree(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "build", "*.sol", "*.json")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


def test_the_contracts_hold_on_this_tree():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout


# (the module given a wrong import, the import, the contract that must refuse it)
WRONG_IMPORTS = [
    ("exchange/services/orders.py", "from exchange.api import errors", "domain-no-http"),
    ("exchange/services/ledger.py", "from exchange.api import views", "exchange-layers"),
    ("exchange/models/orders.py", "from exchange.services import ledger", "models-no-use-case"),
    ("exchange/selectors/orders.py", "from exchange.services import ledger", "selectors-read"),
    ("exchange/selectors/trades.py", "from chain import models", "apps"),
    ("exchange/protocol/hashing.py", "import django", "protocol-pure"),
    ("chain/client.py", "from chain import tasks", "chain-layers"),
    ("chain/watcher.py", "from relayer import urls", "apps"),
    ("exchange/api/views/orders.py", "import benchmarks.seed", "benchmarks-outside"),
    # The WebSocket consumer and its gate are the edge (exchange.api.streams): what
    # publishes to them, and the domain, import neither.
    ("exchange/streams/relay.py", "from exchange.api.streams import consumer", "exchange-layers"),
    ("exchange/streams/events.py", "from exchange.api.streams import gate", "domain-no-http"),
    (
        "exchange/models/streams.py",
        "from exchange.api.streams import consumer",
        "models-no-use-case",
    ),
]


@pytest.mark.parametrize(("module", "wrong_import", "contract"), WRONG_IMPORTS)
def test_a_wrong_import_breaks_its_contract(copy_of_the_tree, module, wrong_import, contract):
    path = copy_of_the_tree / module
    clean = path.read_text()
    try:
        path.write_text(clean + f"\n{wrong_import}  # deliberately wrong\n")
        result = _lint_imports(copy_of_the_tree)
    finally:
        path.write_text(clean)
    assert result.returncode != 0, result.stdout
    [name] = [c["name"] for c in _contracts() if c["id"] == contract]
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert " ".join(name.split()) in " ".join(broken.split()), result.stdout


def test_the_copy_is_clean_without_the_wrong_import(copy_of_the_tree):
    """The copy is read (not the installed checkout) and passes as it is."""
    assert _lint_imports(copy_of_the_tree).returncode == 0


def _modules(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join(parts))
    return found


def _layer_modules(contract: dict) -> list[str]:
    container = contract["containers"][0]
    names = []
    for layer in contract["layers"]:
        for name in layer.replace(":", "|").split("|"):
            names.append(f"{container}.{name.strip()}")
    return names


@pytest.mark.parametrize("app", ["exchange", "chain"])
def test_every_module_of_an_app_stands_in_one_of_its_layers(app):
    """A new module (or package) is placed in the app's layers when it is added."""
    [contract] = [c for c in _contracts() if c.get("containers") == [app]]
    layers = _layer_modules(contract)
    # The app's package itself and a package that only groups its layers (exchange.streams).
    groups = {app} | {layer.rsplit(".", 1)[0] for layer in layers if layer.count(".") > 1}
    outside = [
        module
        for module in _modules(app)
        if module not in groups
        and not any(module == layer or module.startswith(layer + ".") for layer in layers)
    ]
    assert outside == [], f"place these in the {contract['id']} contract (pyproject.toml)"
