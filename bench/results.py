"""Figures out: `bench/results/<name>.json` per scenario, and the tables of `bench/RESULTS.md`.

RESULTS.md keeps whatever is written outside its generated block (the analysis, the profiles);
only the block between the two markers is rewritten, from every JSON file present.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import orjson
import psutil

BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
RESULTS_MD = BENCH / "RESULTS.md"
START = "<!-- generated: start (bench/results.py rewrites this block) -->"
END = "<!-- generated: end -->"


def machine() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(load1, 2), round(load5, 2)],
    }


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])


def percentiles(samples: list[float], name: str = "lat") -> dict[str, float | None]:
    """`<name>_p50_ms`, `<name>_p99_ms`, `<name>_max_ms` of `samples` (milliseconds)."""
    keys = (f"{name}_p50_ms", f"{name}_p99_ms", f"{name}_max_ms")
    if not samples:
        return dict.fromkeys(keys)
    ordered = sorted(samples)
    last = len(ordered) - 1
    picks = (ordered[round(0.50 * last)], ordered[round(0.99 * last)], ordered[last])
    return {key: round(value, 2) for key, value in zip(keys, picks, strict=True)}


def median_of(runs: list[dict[str, Any]], path: tuple[str, ...]) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(value)
    return round(statistics.median(values), 3) if values else None


def write(name: str, report: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    report = {
        "name": name,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "machine": machine(),
        **report,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    render()
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | dict):
        return "`" + orjson.dumps(value).decode() + "`"
    return "" if value is None else str(value)


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and key not in {"close_codes", "status_counts"}:
            flat.update(_flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def _section(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    lines = [
        f"### {report['name']}",
        "",
        f"{report.get('about', '')}",
        "",
        f"- when: {report['when']}; machine: {m['nproc']} cores, {m['memory_gb']} GB, "
        f"Python {m['python']}, load average at start {m['loadavg_at_start']}",
        f"- command: `{report['command']}`",
    ]
    if report.get("target"):
        lines.append(f"- target: {report['target']}")
    if report.get("verdict"):
        lines.append(f"- verdict (medians): **{report['verdict']}**")
    if report.get("ratios"):
        lines += _comparison(report["medians"], report["ratios"])
    runs = [_flatten(run) for run in report.get("runs", [])]
    if runs:
        keys: list[str] = []
        for run in runs:
            keys += [k for k in run if k not in keys]
        header = ["figure", *[f"run {i + 1}" for i in range(len(runs))]]
        if report.get("medians"):
            header.append("median")
        medians = _flatten(report.get("medians", {}))
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for key in keys:
            row = [key, *[_cell(run.get(key)) for run in runs]]
            if report.get("medians"):
                row.append(_cell(medians.get(key)))
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def _comparison(medians: dict[str, Any], ratios: dict[str, Any]) -> list[str]:
    """Servers side by side (gateway_peers): a figure a row, each server's median, then ours
    over each peer's."""
    servers = {name: _flatten(figures) for name, figures in medians.items()}
    quotients = {name: _flatten(figures) for name, figures in ratios.items()}
    keys: list[str] = []
    for flat in servers.values():
        keys += [k for k in flat if k not in keys]
    header = ["figure (median)", *servers, *quotients]
    lines = ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        cells = [_cell(flat.get(key)) or "null" for flat in [*servers.values()]]
        cells += [_cell(flat.get(key)) or "-" for flat in quotients.values()]
        lines.append("| " + " | ".join([key, *cells]) + " |")
    return lines


def render() -> None:
    reports = [orjson.loads(p.read_bytes()) for p in sorted(RESULTS_DIR.glob("*.json"))]
    block = [START, "", "## Figures (generated from bench/results/*.json)", ""]
    for report in reports:
        block += _section(report)
    block.append(END)
    text = (
        RESULTS_MD.read_text()
        if RESULTS_MD.exists()
        else f"# Benchmark results\n\n{START}\n{END}\n"
    )
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    RESULTS_MD.write_text(head + "\n".join(block) + tail)
