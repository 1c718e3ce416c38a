"""Markdown tables from `ditto bench --json` files, for docs/benchmarks.md.

python tools/bench_tables.py bench/*.json
"""

from __future__ import annotations

import json
import sys


def table(report: dict) -> str:
    runs = [r for r in report["runs"] if "error" not in r]
    gpt2 = report["family"] == "gpt2"
    header = ["run", "send bytes", "vs puma", "rounds", "vs puma", "seconds", "vs puma", "LAN s (model)", "vs puma",
              "WAN s (model)", "vs puma", "compile s", "max abs err", "cosine"]  # fmt: skip
    header += ["next-token agreement", "perplexity"] if gpt2 else []
    net = report.get("net")
    emulated = f"{net}_seconds_emulated"
    if report.get("emulated"):
        header[9:9] = [f"{net.upper()} s (emulated)", "vs puma"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]

    def ratio(r: dict, key: str) -> str:  # against PUMA in the same run (bench.py's vs_puma)
        value = r.get("vs_puma", {}).get(key)
        return f"{value:.2f}x" if value is not None else "-"

    for r in runs:
        cells = [r["name"], f"{r['send_bytes']:,}", ratio(r, "send_bytes"), f"{r['rounds']:,.0f}", ratio(r, "rounds"),
                 f"{r['seconds']:.2f}", ratio(r, "seconds"), f"{r['lan_seconds_model']:.2f}",
                 ratio(r, "lan_seconds_model"), f"{r['wan_seconds_model']:.1f}", ratio(r, "wan_seconds_model"),
                 f"{r['compile_seconds']:.1f}", f"{r['max_abs_err']:.2e}", f"{r['cosine']:.5f}"]  # fmt: skip
        cells += [f"{r['next_token_agreement']:.2f}", f"{r['perplexity']:.1f}"] if gpt2 else []
        if report.get("emulated"):
            cells[9:9] = [f"{r[emulated]:.2f}" if emulated in r else "-", ratio(r, emulated)]
        lines.append("| " + " | ".join(cells) + " |")
    for r in report["runs"]:
        if "error" in r:
            lines.append(f"\n{r['name']} failed: {r['error']}")
    title = f"{report['model']}, sequence {report['seq']}, mode {report['mode']}, repeats {report['repeats']}"
    if gpt2:
        title += f", plaintext perplexity {report['plaintext_perplexity']:.1f}"
    return f"### {title}\n\n" + "\n".join(lines) + "\n"


def split(report: dict) -> str:
    """Bytes by ring and by op class, per run."""
    lines = ["| run | by ring | by op class (top 4) |", "|---|---|---|"]
    for r in report["runs"]:
        if "error" in r:
            continue
        rings = ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in r["bytes_by_ring"].items())
        classes = ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in list(r["bytes_by_op_class"].items())[:4])
        lines.append(f"| {r['name']} | {rings} | {classes} |")
    return "\n".join(lines) + "\n"


def against_puma(report: dict) -> str:
    """Bytes by op class, each run against `puma` in the same report: where a run wins or loses."""
    runs = [r for r in report["runs"] if "error" not in r]
    puma = next((r for r in runs if r["name"] == "puma"), None)
    if puma is None:
        return ""
    seen = {c for r in runs for c in r["bytes_by_op_class"]}
    classes = sorted(seen, key=lambda c: -puma["bytes_by_op_class"].get(c, 0))
    lines = ["| op class (MB) | " + " | ".join(r["name"] for r in runs) + " |", "|---|" + "---:|" * len(runs)]
    for c in classes:
        lines.append(f"| {c} | " + " | ".join(f"{r['bytes_by_op_class'].get(c, 0) / 1e6:,.0f}" for r in runs) + " |")
    lines.append("| total | " + " | ".join(f"{r['send_bytes'] / 1e6:,.0f}" for r in runs) + " |")
    return "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        print(table(report))
        print(split(report))
        print(against_puma(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
