"""The result as a table for people and a JSON file for tools."""

import json
from pathlib import Path


def _yes_no(value) -> str:
    return {True: "yes", False: "NO", None: "-"}[value]


def _row(result: dict) -> list[str]:
    if result.get("status") != "measured":
        targets = "; ".join(t["target"] for t in result.get("targets", [])) or "-"
        return [result["name"], "-", "-", "-", "-", "-", targets, result["status"]]
    ratio = result.get("ratio") or {}
    ratios = (
        f"{ratio['throughput']:.2f}/{ratio['p50']:.1f}/{ratio['p99']:.1f}"
        if ratio.get("throughput") is not None and ratio.get("p50") and ratio.get("p99")
        else "-"
    )
    targets = "; ".join(t["target"] for t in result["targets"]) or "-"
    met = _yes_no(result["met"])
    if result["failed"]:
        met += f" ({result['failed']} failed: {', '.join(result['statuses']) or 'socket'})"
    return [
        result["name"],
        f"{result['throughput']:.0f}",
        f"{result['p50_ms']:.1f}",
        f"{result['p99_ms']:.1f}",
        f"{result['peak_rss_mib']:.0f}" if result["peak_rss_mib"] else "-",
        ratios,
        targets,
        met,
    ]


HEADER = ["scenario", "req/s", "p50 ms", "p99 ms", "RSS MiB", "x base s/p50/p99", "target", "met"]


def _load_line(load: dict, nproc: int) -> str:
    line = f"load average (1 min): {load['start']} at start, {load['end']} at end"
    if max(load["start"], load["end"]) > nproc:
        line += f"; above {nproc} CPUs: other work on the machine skewed these figures"
    return line


def table(result: dict) -> str:
    rows = [_row(r) for r in result["baselines"] + result["scenarios"]]
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER) - 1)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + "  " + cells[-1]

    machine = result["machine"]
    lines = [
        f"Benchmark {result['date']} on {machine['nproc']} CPU ({machine['cpu_model']}),"
        f" {machine['memory_mib']} MiB",
        _config_line(result),
        _load_line(result["load_average_1m"], machine["nproc"]),
    ]
    if rows:
        lines += ["", line(HEADER), line(["-" * w for w in widths] + ["---"])]
        lines += [line(row) for row in rows]
        lines.append("x base: throughput / p50 / p99 as multiples of the scenario's baseline")
    if result["workers"]:
        lines += ["", *_worker_table(result["workers"])]
    return "\n".join(lines)


def _config_line(result: dict) -> str:
    config, seed = result["config"], result["seed"]
    if seed is None:
        return f"scale {config['scale']}: worker scenarios only (no HTTP seeding)"
    return (
        f"scale {config['scale']}: {seed['accounts']} accounts, {seed['open_orders_in_book']}"
        f" open orders, {seed['trades']} trades"
        + (
            " (reused from an earlier run);"
            if seed.get("reused")
            else f" (seeded in {seed['seconds']} s);"
        )
        + f" wrk {config['duration_s']} s x {config['connections']} connections;"
        f" gunicorn {config['gunicorn_workers']} workers ({config['gunicorn_config']})"
    )


WORKER_HEADER = ["worker scenario", "figure", "measured over", "target", "met"]


def _worker_figure(result: dict) -> tuple[str, str]:
    if result["status"] != "measured":
        return "-", result["status"]
    if "max_s" in result:
        return (
            f"p50 {result['p50_s']:.2f} s, max {result['max_s']:.2f} s",
            f"{result['samples']} deposits, watcher every {result['tick_s']:g} s",
        )
    return (
        f"{result['throughput']:.0f} {result.get('unit', '/s')}",
        f"{result.get('deposits', result.get('blocks', result.get('count')))}"
        f" in {result['seconds']:.2f} s, {result.get('watcher_runs', result.get('runs'))} runs",
    )


def _worker_table(workers: list[dict]) -> list[str]:
    rows = [WORKER_HEADER]
    for result in workers:
        figure, over = _worker_figure(result)
        targets = "; ".join(t["target"] for t in result.get("targets", [])) or "-"
        rows.append([result["name"], figure, over, targets, _yes_no(result.get("met"))])
    widths = [max(len(row[i]) for row in rows) for i in range(len(WORKER_HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]


def save(result: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = out_dir / "latest.json"
    text = json.dumps(result, indent=2)
    latest.write_text(text)
    stamp = result["date"].replace(":", "").replace("-", "")
    (out_dir / f"{stamp}.json").write_text(text)
    return latest
