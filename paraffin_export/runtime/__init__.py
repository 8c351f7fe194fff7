"""What runs inside Snakemake and its jobs: the `paraffin` runner.

Nothing on the compile side (cli, export, frontend, backends) imports this
package; it stands on the ground floor (ir, errors, naming, paths) and on the
DVC adapter. See docs/architecture.md.
"""
