"""Run the chaos and fuzz suites with full (certify) counts and write the report.

    python scripts/certify.py                    # full counts, 30 min soak
    python scripts/certify.py --soak-seconds 60  # shorter soak
    python scripts/certify.py --ci-counts -k f1  # the CI counts (to try the script)

Writes ``reports/certify.json`` and ``reports/certify.md``: every scenario's figures with
its seed, fault schedule, Redis version and outcome, plus the date and versions. Exits with
pytest's status, so a broken guarantee fails the run (the report is written either way).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _git_rev() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("redis", "hiredis", "redis-fintech-sdk", "atheris", "hypothesis"):
        try:
            found[dist] = version(dist)
        except Exception:
            found[dist] = "not installed"
    return found


def run(args: argparse.Namespace, results: Path) -> int:
    env = dict(os.environ)
    if not args.ci_counts:
        env["RFSDK_CERTIFY"] = "1"
    env["RFSDK_CHAOS_RESULTS"] = str(results)
    env["RFSDK_SOAK_SECONDS"] = str(args.soak_seconds)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/chaos",
        "tests/fuzz",
        "-o",
        f"timeout={int(args.soak_seconds) + 1800}",
        "-p",
        "no:cacheprovider",
        "-rA",
        *(["-k", args.k] if args.k else []),
    ]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def load(results: Path) -> list[dict[str, Any]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def render_md(report: dict[str, Any]) -> str:
    lines = [
        "# Reliability certification report",
        "",
        f"* date: {report['date']}",
        f"* tier: {report['tier']}; git: {report['git']}; pytest exit status: {report['status']}",
        "* versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        "",
        "| scenario | redis | outcome | seed | acked | lost | dup | ambiguous | phantoms |"
        " gaps unrep. | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["scenarios"]:
        c = r["counts"]
        notes = {k: v for k, v in r["notes"].items() if k not in ("tier", "redis_version")}
        lines.append(
            f"| `{r['scenario']}` | {r['notes'].get('redis_version', '?')} | {r['outcome']} "
            f"| {r['seed']} | {c['acknowledged']} | {c['lost']} | {c['duplicates']} "
            f"| {c['ambiguous']} | {c['phantoms']} | {c['gaps_unreported']} "
            f"| `{json.dumps(notes, sort_keys=True, default=str)}` |"
        )
    key = _key_figures(report["scenarios"])
    if key:
        lines += ["", "## Figures with goals of their own", "", *key]
    lines += ["", "## Fault schedules", ""]
    for r in report["scenarios"]:
        lines.append(f"### `{r['scenario']}` (seed {r['seed']})")
        faults = r["faults"]
        shown = faults[:30]
        lines += [f"* t+{f['at']:.3f}s {f['name']} {f['params']}" for f in shown] or ["* none"]
        if len(faults) > len(shown):
            lines.append(f"* … {len(faults) - len(shown)} more in certify.json")
        lines.append("")
    return "\n".join(lines) + "\n"


def _mb(n: Any) -> str:
    return f"{int(n) / 2**20:.1f} MB"


def _key_figures(scenarios: list[dict[str, Any]]) -> list[str]:
    """One line per soak, B1 and F9 run: the figures their goals are about."""
    lines = []
    for r in scenarios:
        n, name = r["notes"], f"`{r['scenario']}` ({r['outcome']})"
        if "rss_growth" in n:
            traced = n.get("tracemalloc_growth", {}).get("bytes_by_owner", {})
            lines.append(
                f"* {name}: RSS of the SDK process {_mb(n['rss_start'])} → {_mb(n['rss_end'])} "
                f"after warm-up ({n['rss_growth']:+.2%}, goal ≤ +10 %); fds "
                f"{n['fds_start']} → {n['fds_end']}; tracemalloc growth by owner "
                f"{json.dumps(traced)}; {r['counts']['acknowledged']} acked, "
                f"{len(r['faults'])} faults"
            )
        elif "runs_goal" in n:
            lines.append(
                f"* {name}: {n['runs']} of {n['runs_goal']} runs in {len(n['shards'])} "
                f"shard(s), peak RSS per shard {[s['peak_rss_mb'] for s in n['shards']]} MB "
                f"(limit {n['rss_limit_mb']})"
            )
        elif "readback_via_proxy" in n:
            lines.append(
                f"* {name}: read back through the slicer: {n['readback_via_proxy']} in "
                f"{n['readback_pages']} pages (slowest {n['readback_page_max_s']} s); "
                f"lost {r['counts']['lost']} of {r['counts']['acknowledged']} (server side)"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--soak-seconds", type=float, default=1800.0)
    parser.add_argument("--ci-counts", action="store_true", help="use the CI counts")
    parser.add_argument("-k", default="", help="pytest -k expression")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "chaos-results.jsonl"
    results.unlink(missing_ok=True)
    started = dt.datetime.now(dt.timezone.utc)
    status = run(args, results)
    report = {
        "date": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tier": "ci-counts" if args.ci_counts else "certify",
        "git": _git_rev(),
        "status": status,
        "versions": _versions(),
        "soak_seconds": args.soak_seconds,
        "scenarios": load(results),
    }
    (args.out / "certify.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.out / "certify.md").write_text(render_md(report))
    print(f"wrote {args.out / 'certify.json'} and {args.out / 'certify.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
