"""Draws BENCHMARKS.md's chart from bench-results.json: items vs seconds, log-log."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(8, 5))
for engine, marker in (("SQLite", "o"), ("PostgreSQL", "s")):
    rows = [r for r in results["sizes"] if r["backend"] == engine]
    if not rows:
        continue
    items = [r["items"] for r in rows]
    ax.plot(items, [r["complete_s"] for r in rows], marker=marker, label=f"graphdrive copy ({engine})")
    ax.plot(items, [r["items_baseline_s"] for r in rows], marker=marker, linestyle="--", label=f"bare INSERT…SELECT, items rows ({engine})")
    ax.plot(items, [r["narrow_baseline_s"] for r in rows], marker=marker, linestyle=":", label=f"bare INSERT…SELECT, narrow rows ({engine})")
for p in results.get("peers", []):
    ax.scatter([p["files"] * 1.01], [p["cp_s"]], marker="^", label=f"cp -r, {p['file_kib']} KiB files")
    if p.get("apache_s"):
        ax.scatter([p["files"] * 1.01], [p["apache_s"]], marker="v", label=f"Apache WebDAV COPY, {p['file_kib']} KiB files")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("items copied")
ax.set_ylabel("seconds")
ax.set_title("Copying a folder tree")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
