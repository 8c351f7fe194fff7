"""What generated Snakefiles import: ``from paraffin_export.snakemake_plan import Plan``.

The plan lives in `paraffin_export.runtime.plan`; this name stays so that
Snakefiles exported by earlier versions (and checked in by their users) keep
running. It is a package rather than a ``snakemake_plan.py`` file so that git
follows the old module to its new home when branches are merged.
"""

from ..runtime.plan import Plan

__all__ = ["Plan"]
