"""Loaded as a pytest plugin (-p tests.environment) before Django reads its settings:
the test suite's defaults, each overridable from the environment."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relayer")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
