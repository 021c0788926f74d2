"""gunicorn as deployed: the image's CMD and compose's web service load this file, and
`python -m benchmarks` serves the API and its baseline with it (only the bind address
differs there), so the benchmark measures the production server's settings."""

bind = "0.0.0.0:8000"
# Two sync workers: one per core of the 2-core machines the benchmark is sized for. On a
# bigger host raise it (WEB_CONCURRENCY is ignored while this is set) or add replicas.
workers = 2
accesslog = "-"
timeout = 30
graceful_timeout = 30
# The proxy in front (docker/nginx.conf) refuses request lines over 4 KiB with JSON first;
# this is gunicorn's own (HTML) limit, never reached behind it.
limit_request_line = 8190
