"""How long Airflow 3.3.2 takes to parse (and serialize) a generated DAG file.

    .venv/bin/python benchmarks/airflow_parse.py [--stages 1000 5000] [--repeat 3]

Renders an N-stage pipeline (foreach groups of 10, each member reading two
members of the group before it, one limit pool) with the airflow backend, then
parses it with tests/airflow_driver.py in the Airflow venv (DagBag, as the DAG
processor does, then serialization). Prints medians of the per-file parse time
and of the serialization time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

from paraffin_export.backends import get_backend
from paraffin_export.backends.base import ExportOptions
from paraffin_export.ir import Labels, Limit, Out, Pipeline, Stage

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "airflow_parse"
AIRFLOW_PYTHON = HERE.parent / ".venv-airflow" / "bin" / "python"
DRIVER = HERE.parent / "tests" / "airflow_driver.py"


def pipeline(n: int, width: int = 10) -> Pipeline:
    stages, edges = [], []
    for i in range(n):
        level, member = divmod(i, width)
        address = f"step{level}@{member}"
        ups = [f"step{level - 1}@{m}" for m in (member, (member + 1) % width)] if level else []
        stages.append(
            Stage(
                address=address,
                name=address,
                dvcfile="dvc.yaml",
                wdir=".",
                cmd=(f"python step.py {level} {member}",),
                deps=tuple(f"data/{u}.txt" for u in ups),
                outs=(Out(f"data/{address}.txt"),),
                group=f"step{level}",
                labels=Labels(retries=1, limits=("step*",)),
            )
        )
        edges += [(u, address) for u in ups]
    return Pipeline(tuple(stages), tuple(edges), (Limit("step*", 4),), "bench", "/srv/bench")


def measure(n: int, repeat: int) -> dict[str, float]:
    dags = WORK / f"dags_{n}"
    shutil.rmtree(dags, ignore_errors=True)
    dags.mkdir(parents=True)
    options = ExportOptions(repo_path="/srv/bench", dag_id=f"bench_{n}")
    (dags / f"bench_{n}.py").write_text(get_backend("airflow").render(pipeline(n), options).main)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(WORK / "home"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    parse, serialize = [], []
    for _ in range(repeat):
        out = WORK / "result.json"
        subprocess.run(
            [str(AIRFLOW_PYTHON), str(DRIVER), "inspect", str(out), str(dags)],
            env=env,
            check=True,
            capture_output=True,
        )
        result = json.loads(out.read_text())
        assert not result["import_errors"], result["import_errors"]
        assert len(result["dags"][f"bench_{n}"]["tasks"]) == n
        parse.append(result["file_seconds"][f"bench_{n}.py"])
        serialize.append(result["serialize_seconds"][f"bench_{n}"])
    return {"parse": statistics.median(parse), "serialize": statistics.median(serialize)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"nproc={os.cpu_count()}")
    for n in args.stages:
        got = measure(n, args.repeat)
        print(f"{n:>6} stages: parse {got['parse']:.2f} s, serialize {got['serialize']:.2f} s")


if __name__ == "__main__":
    main()
