"""Drives a server with wrk over a file of prepared requests and parses its figures."""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("lua") / "requests.lua"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict | list | None = None

    def line(self) -> str:
        body = "" if self.body is None else json.dumps(self.body, separators=(",", ":"))
        return f"{self.method}\t{self.path}\t{body}"


@dataclass(frozen=True)
class Load:
    duration: float  # seconds
    connections: int
    threads: int


def write_requests(path: Path, requests: list[Request]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(request.line() + "\n" for request in requests))
    return path


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: `apt-get install -y wrk` (make bench does it)")
    return binary


def run_wrk(*, url: str, requests_file: Path, once: bool, load: Load) -> dict:
    """wrk's figures: requests, requests/s, latency percentiles (ms), non-2xx statuses."""
    command = [
        wrk_binary(),
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={max(1, round(load.duration))}s",
        "--timeout=10s",
        "--latency",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        str(requests_file),
        "once" if once else "cycle",
        str(load.threads),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RuntimeError(f"wrk printed no figures:\n{completed.stdout}\n{completed.stderr}")
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    errors = raw["errors"]
    failed = errors["status"] + errors["connect"] + errors["read"] + errors["timeout"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "throughput": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "failed": failed,
        "statuses": raw["statuses"],
        "first_error": raw["first_error"],
        "ran_out_of_requests": raw["threads_exhausted"] > 0,
    }
