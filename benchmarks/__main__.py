"""`python -m benchmarks [options]` (`make bench`): the benchmark harness, outside the app
as Django's own djangobench is. It runs with the project's settings (relayer.settings)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
    import django

    django.setup()
    from benchmarks.command import Command

    Command().run_from_argv([sys.argv[0], "benchmark", *sys.argv[1:]])


if __name__ == "__main__":
    main()
