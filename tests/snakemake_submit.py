#!/usr/bin/env python3
"""A cluster "submit" command for snakemake-executor-plugin-cluster-generic.

Snakemake calls it with the job script as the last argument. It records what
the job was given (the job script's `# properties = {json}` line: rule,
threads, resources) as one JSON line in $SUBMIT_LOG, starts the job script in
the background on this machine, as a batch system would on a node, with its
output in <rule>.out next to $SUBMIT_LOG, and prints a job id.
"""

import json
import os
import subprocess
import sys

PREFIX = "# properties = "


def main() -> None:
    jobscript = sys.argv[-1]
    with open(jobscript, encoding="utf-8") as handle:
        props = next(json.loads(line[len(PREFIX) :]) for line in handle if line.startswith(PREFIX))
    log = os.environ["SUBMIT_LOG"]
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(props) + "\n")
    out = open(os.path.join(os.path.dirname(log), props["rule"] + ".out"), "w")  # noqa: SIM115
    job = subprocess.Popen(
        ["bash", jobscript], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    print(job.pid)


if __name__ == "__main__":
    main()
