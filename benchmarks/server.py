"""Serves a WSGI app under gunicorn as deployed, on a free port, and measures its workers."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from relayer.ports import free_port

WORKERS = 2
# The deployed gunicorn config (the image and compose load it) applies here too, except
# the bind address and the worker count, fixed for comparison.
DEPLOYED_CONFIG = Path(settings.BASE_DIR) / "docker" / "gunicorn.conf.py"


class Server:
    """`with Server(...) as server:` starts gunicorn and stops it on exit."""

    def __init__(self, *, name: str, app: str, env: dict, log_path: Path):
        self.name = name
        self.app = app
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        command = [gunicorn, self.app, "--config", str(DEPLOYED_CONFIG)]
        return [*command, "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS)]

    def __enter__(self) -> "Server":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # closed in __exit__
        self.process = subprocess.Popen(
            self.command(),
            cwd=settings.BASE_DIR,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).close()
            except urllib.error.HTTPError:
                pass  # any HTTP answer means a worker is serving
            except OSError:
                time.sleep(0.2)
                continue
            if len(self.workers()) >= WORKERS:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server did not start in {timeout} s; see {self.log_path}")

    def workers(self) -> list[int]:
        """The pids of the master's children (gunicorn's workers)."""
        master = self.process.pid
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(entry))
        return sorted(children)

    def reset_peak_rss(self) -> None:
        """Resets VmHWM of each worker (Linux: 5 > /proc/pid/clear_refs)."""
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
                    clear_refs.write("5")
            except OSError:
                pass  # not allowed here: the figure is then the peak since start

    def peak_rss_mib(self) -> float | None:
        """The largest VmHWM of the workers, in MiB."""
        peaks = []
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                continue
        return round(max(peaks), 1) if peaks else None
