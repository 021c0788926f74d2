"""The benchmark harness (`python -m benchmarks`, `make bench`).

It seeds a dedicated PostgreSQL database at scale, serves the API under gunicorn
as deployed, drives it with wrk over pre-signed requests and reports every figure
next to a minimal Django/DRF baseline served the same way (see README, Benchmarks).
"""
