"""The embedded SQLite backend, with exact decimals (see base.py)."""
