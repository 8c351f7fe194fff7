"""paraffin-export: compile a DVC project into a workflow for a real engine."""

__version__ = "0.1.0"


def dvc_version() -> str:
    """DVC's installed version, read from its one dist-info folder beside the
    package: importing `importlib.metadata` alone costs more than a cached
    load; anything unusual asks it."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("dvc")
    if spec is not None and spec.origin:
        site = os.path.dirname(os.path.dirname(spec.origin))
        try:
            found = [n for n in os.listdir(site) if n.startswith("dvc-")]
        except OSError:
            found = []
        infos = [n for n in found if n.endswith(".dist-info")]
        if len(infos) == 1:
            return infos[0].removeprefix("dvc-").removesuffix(".dist-info")
    from importlib.metadata import version

    return version("dvc")
