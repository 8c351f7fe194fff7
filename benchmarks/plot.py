"""The PNG of measurements 1 (wide makespan) and 4 (compile time vs size), drawn
from the raw JSON in the results directory (`run.py --plot` redraws it).
Needs matplotlib: `pip install -e '.[bench]'`."""

from __future__ import annotations

import json

from common import RESULTS

PNG = "benchmarks.png"


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _label(key: str) -> str:
    """Two or three short lines under a bar: 'snakemake -j 8 [paraffin, minimal
    install]' -> 'snakemake -j 8\nparaffin\nminimal install'."""
    if "[" in key:
        head, _, inside = key.partition(" [")
        return "\n".join([head, *(part.strip() for part in inside.rstrip("]").split(","))])
    return key.replace(" worker", "\nworker").replace(" (", "\n(")


def _wide(ax, data: dict) -> None:  # noqa: ANN001 - a matplotlib Axes
    labels = ["ideal"]
    values, lows, highs = [data["ideal_s"]], [0.0], [0.0]
    for key, run in data["runs"].items():
        secs = sorted(run["seconds"])
        if not secs:  # every run failed
            continue
        med = data["medians"][key]
        labels.append(_label(key))
        values.append(med)
        lows.append(med - secs[0])
        highs.append(secs[-1] - med)
    bars = ax.bar(range(len(values)), values, yerr=[lows, highs], capsize=4)
    bars[0].set_color("grey")
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:.1f}s",
            (bar.get_x() + bar.get_width() / 2, value),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("makespan, s (median; bars: min-max)")
    ax.set_title(f"1. wide: {data['stages'] - 1} x sleep + join, -j {data['jobs']}")


def _compile(ax, data: dict) -> None:  # noqa: ANN001
    sizes = data["stages"]
    wide = sorted((label for label in data["seconds"] if label.startswith("wide")), key=sizes.get)
    tools = list(next(iter(data["seconds"].values())))
    for tool in tools:
        xs = [sizes[label] for label in wide]
        ys = [
            sorted(data["seconds"][label][tool])[len(data["seconds"][label][tool]) // 2]
            for label in wide
        ]
        ax.plot(xs, ys, marker="o", label=tool)
    ax.set_xlabel("stages (wide pipeline + join)")
    ax.set_ylabel("seconds (median, whole process)")
    ax.set_title("4. compile: paraffin export vs dvc dag --dot")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def draw() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide, comp = _load("wide"), _load("compile")
    if not wide and not comp:
        return "plot: no results to draw"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    if wide:
        _wide(axes[0], wide)
    if comp:
        _compile(axes[1], comp)
    machine = (wide or comp)["machine"]  # type: ignore[index]
    fig.suptitle(
        f"paraffin-export benchmarks, {machine['date']}, nproc={machine['nproc']}", fontsize=10
    )
    fig.tight_layout()
    out = RESULTS / PNG
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return f"plot: {out}"
