"""The airflow backend on hand-built IR: ids, groups, labels, escaping.

The generated file is read back with `ast`, so every check is on what Python
(and so Airflow) will actually see, not on the text.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import paraffin

from paraffin_export.backends import get_backend
from paraffin_export.backends.airflow import airflow_key, group_key
from paraffin_export.backends.base import ExportOptions
from paraffin_export.errors import BackendError
from paraffin_export.ir import Labels, Limit, Pipeline, Stage

KEY = re.compile(r"^[\w.-]+$")
GROUP = re.compile(r"^[\w-]+$")
BACKEND = get_backend("airflow")
HOSTILE = [
    "plain",
    "it's",
    'say "hi"',
    "$(touch pwned)",
    "`id`",
    "a;b && c | d",
    "{{ ds }}",
    "{% raw %}",
    "{# x #}",
    "run.sh",
    "back\\slash",
    "new\nline",
    "größe",
    "tab\there",
    "x" * 300,
    "-leading-dash",
    "class",
    "a b",
    "a_b",
    "a-b",
    "'''",
    '"""',
    "\x00nul",
]


def stage(address: str, *, group: str | None = None, dvcfile: str = "dvc.yaml", **kw: Any) -> Stage:
    name = address.split(":", 1)[1] if dvcfile != "dvc.yaml" else address
    kw.setdefault("cmd", (f"echo {name}",))
    return Stage(address=address, name=name, dvcfile=dvcfile, wdir=".", group=group, **kw)


def pipe(stages: list[Stage], edges: list[tuple[str, str]] = (), **kw: Any) -> Pipeline:  # type: ignore[assignment]
    kw.setdefault("root", "/abs/project")
    return Pipeline(stages=tuple(stages), edges=tuple(edges), **kw)


def render(pipeline: Pipeline, **options: Any) -> tuple[str, dict[str, str]]:
    rendered = BACKEND.render(pipeline, ExportOptions(**options))
    return rendered.main, dict(rendered.extras)


def calls(source: str, name: str) -> list[tuple[list[Any], dict[str, Any]]]:
    """Literal arguments of every top-level-DAG call to ``name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            found.append((args, kwargs))
    return found


def stages_of(source: str) -> dict[str, dict[str, Any]]:
    """address -> the literal keywords of its ``_stage`` call, plus its task id."""
    result = {}
    for (task_id, address), kwargs in calls(source, "_stage"):
        assert address not in result
        result[address] = {"task_id": task_id, **kwargs}
    return result


def test_hostile_addresses_survive_as_literals() -> None:
    stages = [stage(a) for a in HOSTILE]
    edges = [(HOSTILE[i], HOSTILE[i + 1]) for i in range(len(HOSTILE) - 1)]
    source, _ = render(pipe(stages, edges))
    got = stages_of(source)
    assert list(got) == HOSTILE
    ids = [got[a]["task_id"] for a in HOSTILE]
    assert len(set(ids)) == len(ids)
    for address in HOSTILE:
        task_id = got[address]["task_id"]
        assert KEY.match(task_id) and task_id.isascii() and len(task_id) <= 250, task_id
        assert got[address]["cmd"] == [f"echo {address}"]
    for up, down in edges:
        assert got[down]["upstream"] == [got[up]["task_id"]]
    # Names that are legal ids stay as they are; the rest carry a hash.
    assert got["plain"]["task_id"] == "plain"
    assert got["a_b"]["task_id"] == "a_b" and got["a-b"]["task_id"] == "a-b"
    assert got["run.sh"]["task_id"] == "run.sh"
    assert got["a b"]["task_id"].startswith("a_b_")


def _shape(source: str) -> str:
    """The module's syntax tree with every constant blanked out."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = None
    return ast.dump(tree)


def test_addresses_never_reach_code_outside_literals() -> None:
    edges = [(HOSTILE[i], HOSTILE[i + 1]) for i in range(len(HOSTILE) - 1)]
    source, _ = render(pipe([stage(a) for a in HOSTILE], edges))
    tree = ast.parse(source)
    repro = next(
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "REPRO"
    )
    assert '"$PARAFFIN_STAGE"' in repro and "--wait-for-lock repro --single-item --" in repro
    assert not any(a in repro for a in HOSTILE[1:])
    # The same pipeline with tame names gives the same code up to constants:
    # no name ever becomes syntax.
    tame = [f"s{i}" for i in range(len(HOSTILE))]
    rename = dict(zip(HOSTILE, tame, strict=True))
    stages = [stage(t, cmd=(f"echo {a}",)) for a, t in rename.items()]
    plain, _ = render(pipe(stages, [(rename[u], rename[d]) for u, d in edges]))
    assert _shape(source) == _shape(plain)


def test_the_template_uses_repr_for_every_value() -> None:
    template = Path(__file__).parents[2] / "templates" / "airflow" / "dag.py.j2"
    text = template.read_text(encoding="utf-8")
    for expr in re.findall(r"\{\{(.*?)\}\}", text):
        if "params.repo_path" in expr:  # inside {% raw %}: Airflow's own template
            continue
        # check_source: the first task's code, from our own modules, not data
        assert "pyrepr" in expr or expr.strip() in ("key", "check_source"), expr
    assert not re.search(r"[\"']\{\{", text.replace('"{{ params.repo_path }}"', ""))


def test_groups_for_foreach_matrix_and_sub_dvc_yaml() -> None:
    stages = [
        stage("train@0", group="train"),
        stage("train@1", group="train"),
        stage("sub/dvc.yaml:prep", dvcfile="sub/dvc.yaml"),
        stage("sub/dvc.yaml:fit@a", dvcfile="sub/dvc.yaml", group="sub/dvc.yaml:fit"),
        stage("mx@lr-0.1", group="mx"),
        stage("sub", cmd=("echo clash",)),  # a task named like the folder's group
    ]
    source, _ = render(pipe(stages))
    made = {args[0]: (args[1], args[2], kw.get("parent")) for args, kw in calls(source, "_group")}
    got = stages_of(source)
    task_ids = {v["task_id"] for v in got.values()}
    for gid in made:
        assert GROUP.match(gid) and len(gid) <= 200
        assert gid not in task_ids
    by_label = {label: gid for gid, (label, _, _) in made.items()}
    assert set(by_label) == {"train", "mx", "sub/dvc.yaml", "fit"}
    assert by_label["train"] == "train" and by_label["mx"] == "mx"
    assert made[by_label["fit"]][2] == by_label["sub/dvc.yaml"]
    assert got["train@1"]["group"] == "train"
    assert got["sub/dvc.yaml:prep"]["group"] == by_label["sub/dvc.yaml"]
    assert got["sub/dvc.yaml:fit@a"]["group"] == by_label["fit"]
    assert "group" not in got["sub"]
    # Parents come before children, so each _group call can find its parent.
    order = list(made)
    assert order.index(by_label["sub/dvc.yaml"]) < order.index(by_label["fit"])


def test_group_ids_avoid_join_ids_of_tasks() -> None:
    stages = [stage("g@1", group="g"), stage("g.upstream_join_id")]
    source, _ = render(pipe(stages))
    (gid,) = [args[0] for args, _ in calls(source, "_group")]
    assert gid != "g" and gid.startswith("g_")


def test_labels_become_operator_arguments_and_limits_pools() -> None:
    labels = Labels(
        queue="gpu",
        threads=4,
        retries=2,
        pool="gpu_pool",
        resources=(("gpu", 1), ("mem_mb", 8000), ("pool_slots", 2), ("partition", "x")),
    )
    stages = [
        stage("train", labels=labels),
        stage("fetch@1", group="fetch", labels=Labels(limits=("fetch@*",))),
        stage("plain"),
    ]
    limits = (Limit("fetch@*", 2),)
    source, extras = render(pipe(stages, limits=limits, project="proj"))
    got = stages_of(source)
    assert {k: got["train"][k] for k in ("queue", "retries", "pool", "pool_slots")} == {
        "queue": "gpu",
        "retries": 2,
        "pool": "gpu_pool",
        "pool_slots": 2,
    }
    assert got["train"]["resources"] == {"cpus": 4, "ram": 8000, "gpus": 1}
    pool = got["fetch@1"]["pool"]
    assert KEY.match(pool) and pool.startswith("paraffin.proj.")
    assert not {"queue", "retries", "pool", "resources"} & set(got["plain"])
    doc = json.loads(extras["proj.pools.json"])
    assert doc == {
        pool: {"slots": 2, "description": doc[pool]["description"], "include_deferred": False}
    }
    # The same limit in another DAG gets another pool.
    _, other = render(pipe(stages, limits=limits, project="proj"), dag_id="other")
    assert set(json.loads(other["other.pools.json"])) != set(doc)


def test_no_pools_file_without_limits() -> None:
    _, extras = render(pipe([stage("a")]))
    assert extras == {}


def test_a_stage_cannot_be_in_two_pools() -> None:
    stages = [stage("a", labels=Labels(pool="p", limits=("a*",)))]
    with pytest.raises(BackendError) as err:
        render(pipe(stages, limits=(Limit("a*", 1),)))
    assert err.value.stage == "a" and "one pool" in str(err.value)


def test_dag_settings_and_options() -> None:
    source, _ = render(pipe([stage("a")], project="my project"))
    (dag_call,) = [n for n in ast.walk(ast.parse(source)) if getattr(n, "func", None)
                   and getattr(n.func, "id", None) == "DAG"]  # fmt: skip
    kw = {k.arg: k.value for k in dag_call.keywords}
    assert ast.literal_eval(kw["dag_id"]) == "my_project"
    assert ast.literal_eval(kw["dag_display_name"]) == "my project"
    assert ast.literal_eval(kw["schedule"]) is None
    assert ast.literal_eval(kw["catchup"]) is False
    assert ast.literal_eval(kw["max_active_runs"]) == 1
    assert "max_active_tasks" not in kw
    assert "REPO_PATH = os.environ.get(\"PARAFFIN_REPO_PATH\") or '/abs/project'" in source
    source, _ = render(pipe([stage("a")]), repo_path="/srv/it's", max_active_tasks=3)
    assert 'or "/srv/it\'s"\n' in source and "max_active_tasks=3," in source
    assert BACKEND.output_name(pipe([stage("a")], project="p"), ExportOptions()) == "p.py"


@pytest.mark.parametrize(
    "options", [{"dag_id": "bad id"}, {"dag_id": "x" * 251}, {"max_active_tasks": 0}]
)
def test_bad_options_are_backend_errors(options: dict[str, Any]) -> None:
    with pytest.raises(BackendError):
        render(pipe([stage("a")]), **options)


def test_output_is_deterministic() -> None:
    stages = [stage(a, group="g" if i % 2 else None) for i, a in enumerate(HOSTILE)]
    first = render(pipe(stages, limits=(Limit("z", 1), Limit("a", 2))))
    assert render(pipe(stages, limits=(Limit("z", 1), Limit("a", 2)))) == first
    assert "/tmp" not in first[0] and "paraffin-export" in first[0]


def test_sanitizers() -> None:
    assert airflow_key("a@b/c d") == "a_b_c_d" and airflow_key("") == "_"
    assert group_key("sub/dvc.yaml") == "sub" and group_key("sub/dvc.yaml:fit") == "sub_fit"
    assert group_key("a.b") == "a_b"


def test_cli_writes_dag_and_pools_and_checks(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo(
        {
            "dvc.yaml": "stages:\n  s:\n    foreach: [a, b]\n    do:\n"
            "      cmd: echo ${item} > ${item}.txt\n      outs: ['${item}.txt']\n",
            "paraffin.yaml": "stages:\n  's@*':\n    limit: 1\n",
        },
        name="cli proj",
    )
    dags = tmp_path / "dags"
    result = paraffin("export", "airflow", "-C", root, "-o", f"{dags}/", "--max-active-tasks", "4")
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in dags.iterdir()) == ["cli_proj.pools.json", "cli_proj.py"]
    text = (dags / "cli_proj.py").read_text()
    assert repr(str(root)) in text and "max_active_tasks=4," in text
    args = ("export", "airflow", "-C", root, "-o", f"{dags}/", "--max-active-tasks", "4", "--check")
    assert paraffin(*args).code == 0
    (dags / "cli_proj.pools.json").write_text("{}")
    stale = paraffin(*args)
    assert stale.code == 1 and "cli_proj.pools.json" in stale.stdout
    assert paraffin("export", "airflow", "-C", root, "--view", "levels").code == 2


def test_generated_file_is_clean_under_ruffs_airflow_rules(tmp_path: Path) -> None:
    """ruff's AIR rules (Airflow 3 migration, preview ones included) and pyflakes."""
    import subprocess

    from conftest import BIN

    labels = Labels(queue="q", retries=1, pool="p", resources=(("mem_mb", 1),))
    stages = [stage(a, group="g" if "a" in a else None, labels=labels) for a in HOSTILE]
    stages.append(stage("sub/dvc.yaml:x", dvcfile="sub/dvc.yaml"))
    path = tmp_path / "dag.py"
    path.write_text(render(pipe(stages))[0], encoding="utf-8")
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "--isolated", "--no-cache", "--preview"]
        + ["--select", "AIR,F,E9,B", "--target-version", "py39", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
