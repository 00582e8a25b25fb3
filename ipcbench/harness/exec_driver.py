"""A case driver under another interpreter (``--pythons``).

``python -I -m ipcbench.harness.exec_driver FD`` reads ``(case, settings, repeat, n_messages,
offered_per_s)`` pickled from stdin and runs ``driver.drive`` with its report connection on
file descriptor FD, as a forked driver would. It starts its resource tracker first, while it
is still in the runner's process group: the tracker then outlives a SIGKILL of the case's
group and still unlinks what a killed case left (semaphores, shared memory), as the runner's
own tracker does for forked drivers. The runner is told the tracker's pid, to reap it.
"""

from __future__ import annotations

import pickle
import sys
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection

from ipcbench.harness.driver import drive
from ipcbench.results.schema import TrackerMessage

PICKLE_PROTOCOL = 4  # read by every supported version


def main(argv: list[str]) -> None:
    report = Connection(int(argv[1]), readable=False)
    case, settings, repeat, n_messages, offered_per_s = pickle.load(sys.stdin.buffer)
    sys.stdin.close()
    resource_tracker.ensure_running()
    tracker_pid = getattr(resource_tracker._resource_tracker, "_pid", None)
    if tracker_pid:
        report.send(TrackerMessage(int(tracker_pid)))
    drive(case, settings, report, repeat, n_messages, offered_per_s)


if __name__ == "__main__":
    main(sys.argv)
