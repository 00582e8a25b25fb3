"""ipcbench cases under pyperf's worker-process method, writing pyperf JSON.

    python bench/pyperf_suite.py --transport pipe,queue --pattern pingpong --size 64 -o a.json
    python bench/pyperf_suite.py --transport pipe --fast --affinity 0 -o same-cpu.json
    python -m pyperf compare_to a.json b.json

The same as ``ipcbench pyperf`` (see ipcbench/cli/pyperf_cmd.py for how sessions, workers
and CPU pinning work; ``--help`` lists every option). pyperf re-runs this file in each worker
process; the ``__main__`` guard also keeps spawned children of a case from running it.
"""

from __future__ import annotations

import os
import sys

from ipcbench.cli.pyperf_cmd import run_suite
from ipcbench.errors import IpcbenchError


def main() -> int:
    try:
        return run_suite(sys.argv[1:], program_args=(os.path.abspath(__file__),))
    except IpcbenchError as exc:
        print(f"pyperf_suite: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
