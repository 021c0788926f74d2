"""`python -m benchmarks` (benchmarks/__main__.py): seeds the benchmark database, serves the API and a
minimal baseline under gunicorn, drives both with wrk and reports every figure."""

import json
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from benchmarks import database
from benchmarks.load import Load, wrk_binary
from benchmarks.report import save, table
from benchmarks.runner import run
from benchmarks.scenarios import SCENARIOS, WORKER_SCENARIOS

# Set in the re-executed process, which runs with DATABASE_URL pointing at the bench db.
REEXEC_MARKER = "RELAYER_BENCHMARK_PROCESS"


class Command(BaseCommand):
    help = "Benchmark the API against a minimal Django baseline (see README, Benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=float, default=1.0, help="Multiplies the seeded data (1 = full)."
        )
        parser.add_argument("--duration", type=float, default=10, help="Seconds of load each.")
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
        parser.add_argument(
            "--only",
            default="",
            help="Comma-separated scenario names, HTTP or worker (baselines run with any HTTP one).",
        )
        parser.add_argument(
            "--reuse-seed",
            action="store_true",
            help="Keep the data an earlier run seeded at the same --scale (else seed anew).",
        )
        parser.add_argument(
            "--output", default=str(Path(settings.BASE_DIR) / "bench-results"), help="Results dir."
        )

    def handle(self, *args, **options):
        if not 0 < options["scale"] <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if options["duration"] < 1 or options["connections"] < options["threads"] < 1:
            raise CommandError("need --duration >= 1 and --connections >= --threads >= 1")
        only = {name for name in options["only"].split(",") if name} or None
        if only == {"streams"}:  # benchmarks/streams.py
            return self._streams()
        unknown = (only or set()) - {s.name for s in [*SCENARIOS, *WORKER_SCENARIOS]}
        if unknown:
            raise CommandError(f"unknown scenarios: {', '.join(sorted(unknown))}")
        wrk_binary()
        url = database.bench_url()
        if connection.settings_dict["NAME"] != database.database_name(url):
            self._reexec_on(url)
        database.ensure_database(url)
        call_command("migrate", interactive=False, verbosity=0)
        out_dir = Path(options["output"])
        result = run(
            scale=options["scale"],
            load=Load(
                duration=options["duration"],
                connections=options["connections"],
                threads=options["threads"],
            ),
            only=only,
            out_dir=out_dir,
            reuse_seed=options["reuse_seed"],
            log=lambda message: self.stderr.write(message),
        )
        self.stdout.write(table(result))
        self.stdout.write(f"\nwritten to {save(result, out_dir)}")

    def _streams(self) -> None:
        from benchmarks.streams import run_streams

        url = database.bench_url()
        if connection.settings_dict["NAME"] != database.database_name(url):
            self._reexec_on(url)
        database.ensure_database(url)
        call_command("migrate", interactive=False, verbosity=0)
        result = run_streams(log=lambda message: self.stderr.write(message))
        self.stdout.write(json.dumps(result, indent=2))

    def _reexec_on(self, url: str) -> None:
        """Runs this command again with the benchmark database as the default one."""
        if os.environ.get(REEXEC_MARKER):
            raise CommandError(f"DATABASE_URL does not name the benchmark database {url}")
        if not url.startswith(("postgres://", "postgresql://")):
            raise CommandError("BENCH_DATABASE_URL must be a PostgreSQL URL")
        database.ensure_database(url)
        env = {**os.environ, "DATABASE_URL": url, REEXEC_MARKER: "1"}
        sys.stdout.flush()
        sys.stderr.flush()
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(settings.BASE_DIR), env.get("PYTHONPATH")])
        )
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]], env)
