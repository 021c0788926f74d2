"""The processes of `make scale-test` and `make bench-scale`: a PostgreSQL primary and
its synchronous standby (initdb, pg_basebackup and pg_ctl run as the `postgres` user:
PostgreSQL refuses root), web replicas under uvicorn, Celery workers and beat, anvil and
nginx in front, each in its own process group, all stopped by `Processes.stop_all`."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from relayer.demo import ANVIL, CHAIN_ID, OPERATOR_ADDRESS, OPERATOR_KEY
from relayer.ports import free_port
from tests.reliability.servers import Server, process_stop, serving_wait

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STANDBY_NAME = "standby"
WAIT = 60.0


def postgres_binary(name: str) -> str:
    """initdb and pg_ctl live in Debian's versioned folder (not on PATH)."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{folder}/{name}"):
            return f"{folder}/{name}"
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: install Debian's postgresql package")
    return found


def as_postgres(*argv: str) -> str:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")
    return done.stdout


@dataclass
class Cluster:
    """One PostgreSQL server of the test, in `data`, on 127.0.0.1:`port`."""

    name: str
    data: Path
    port: int = field(default_factory=free_port)

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    def settings(self, **values: str) -> None:
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            for key, value in values.items():
                conf.write(f"{key} = '{value}'\n")

    def start(self) -> None:
        as_postgres(
            postgres_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"
        )

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            as_postgres(postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def kill(self) -> None:
        """SIGKILL to the postmaster: a crash. Its backends exit on their own."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        as_postgres(postgres_binary("pg_ctl"), "-D", str(self.data), "-w", "promote")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def value(self, query: str, dbname: str = "postgres"):
        with self.connect(dbname) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None, query
            return row[0]

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"


def primary_and_standby(root: Path, *, synchronous: bool = True) -> tuple[Cluster, Cluster]:
    """A primary and a streaming standby (synchronous unless told otherwise), both running."""
    folder = root / "pg"
    folder.mkdir()
    postgres = pwd.getpwnam("postgres")
    os.chown(folder, postgres.pw_uid, postgres.pw_gid)
    primary = Cluster("primary", folder / "primary")
    as_postgres(
        postgres_binary("initdb"),
        *("-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
    )
    primary.settings(
        port=str(primary.port),
        listen_addresses="127.0.0.1",
        unix_socket_directories=str(folder),
        wal_level="replica",
        max_wal_senders="5",
        max_connections="200",
        synchronous_standby_names=STANDBY_NAME if synchronous else "",
        synchronous_commit="on",
    )
    primary.start()
    standby = Cluster("standby", folder / "standby")
    as_postgres(
        "pg_basebackup",
        *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
        *("-D", str(standby.data), "-X", "stream", "-R"),
    )
    standby.settings(
        port=str(standby.port),
        primary_conninfo=(
            f"host=127.0.0.1 port={primary.port} user=postgres application_name={STANDBY_NAME}"
        ),
        # Once promoted it has no standby of its own: its commits must not wait for one.
        synchronous_standby_names="",
        hot_standby_feedback="on",
    )
    standby.start()
    deadline = time.monotonic() + WAIT
    wanted = "sync" if synchronous else "async"
    while primary.value("SELECT max(sync_state) FROM pg_stat_replication") != wanted:
        assert time.monotonic() < deadline, f"the standby did not become {wanted}"
        time.sleep(0.2)
    return primary, standby


def multi_host_url(dbname: str, *clusters: Cluster) -> str:
    """libpq's list of hosts: the first that takes writes is used (after a failover,
    the promoted standby) without any setting changed."""
    hosts = ",".join("127.0.0.1" for _ in clusters)
    ports = ",".join(str(cluster.port) for cluster in clusters)
    return (
        f"postgres://postgres@/{dbname}?host={hosts}&port={ports}"
        "&target_session_attrs=read-write&connect_timeout=3"
    )


def app_environment(root: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SECRET_KEY": "scale-test-only",
        "DEBUG": "0",
        "VAR_DIR": str(root / "var"),
        "DEFAULT_NETWORK_ID": str(CHAIN_ID),
        "OPERATOR_PRIVATE_KEY": OPERATOR_KEY,
        "OPERATOR_PRIVATE_KEY_FILE": "",
        "FEE_ACCOUNT": OPERATOR_ADDRESS,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "relayer.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Processes:
    """Every process the run starts, each in its own session (process group), and the
    PostgreSQL clusters; `stop_all` ends them all, whatever happened before."""

    def __init__(self, root: Path):
        self.root = root
        self.started: list[Process] = []
        self.clusters: list[Cluster] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str], url: str = "") -> Process:
        log_path = self.root / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Process(name, process, log_path, url)
        self.started.append(started)
        return started

    def web(self, name: str, env: dict[str, str], *, server: str = "uvicorn") -> Process:
        """A web replica: REST and /ws under uvicorn (relayer/serve.py), one process; or
        REST under gunicorn as deployed (docker/gunicorn.conf.py: two sync workers)."""
        port = free_port()
        if server == "gunicorn":
            argv = [str(Path(PYTHON).parent / "gunicorn"), "relayer.wsgi:application"]
            argv += ["--config", str(ROOT / "docker" / "gunicorn.conf.py")]
            argv += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"]
        else:
            argv = [PYTHON, "-m", "relayer.serve", "--host", "127.0.0.1", "--port", str(port)]
        web = self.spawn(name, argv, env, f"http://127.0.0.1:{port}")
        serving_wait(Server(web.url, web.process, web.log_path), name=name, ready_requests=2)
        return web

    def worker(self, name: str, env: dict[str, str], queues: str) -> Process:
        argv = [PYTHON, "-m", "celery", "-A", "relayer", "worker", "-Q", queues]
        argv += ["--concurrency", "1", "--loglevel", "INFO", "--hostname", f"{name}@%h"]
        return self.spawn(name, [*argv, "--without-mingle", "--without-gossip"], env)

    def beat(self, env: dict[str, str]) -> Process:
        schedule = self.root / "celerybeat-schedule"
        argv = [PYTHON, "-m", "celery", "-A", "relayer", "beat", "--schedule", str(schedule)]
        return self.spawn("beat", argv, env)

    def anvil(self) -> Process:
        port = free_port()
        argv = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--chain-id", str(CHAIN_ID), "--block-time", "1", "--mixed-mining"]
        node = self.spawn("anvil", argv, dict(os.environ), f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + WAIT
        while True:
            assert node.process.poll() is None, node.log()[-2000:]
            try:
                body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                requests.post(node.url, json=body, timeout=2)
                return node
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.1)

    def kill(self, started: Process) -> None:
        """SIGKILL to the whole group (a worker and its pool child): a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.process.pid, signal.SIGKILL)
        started.process.wait()

    def stop_all(self) -> None:
        for started in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                process_stop(started.process)
        for cluster in self.clusters:
            cluster.stop()
