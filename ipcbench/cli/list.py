"""``ipcbench list``: the transports with the patterns and parameters they take, the patterns."""

from __future__ import annotations

import argparse
import textwrap

from ipcbench.cli.common import SubParsers, add_command


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return add_command(
        sub, "list", main, "list transports with the patterns and parameters they take"
    )


def main(args: argparse.Namespace) -> int:
    from ipcbench import transports
    from ipcbench.harness.sweep import takes
    from ipcbench.measure import catalogue

    print("transports:")
    for cls in transports.all_transports():
        params = ["payload: " + "/".join(cls.payload_kinds())]
        if cls.uses_maxsize:
            params.append("maxsize")
        if cls.calls:
            params.append("calls: " + "/".join(cls.calls))
        for pattern, ops in cls.ops.items():
            params.append(f"{pattern} ops: " + "/".join(ops))
        if cls.in_process:
            params.append("in-process (no start method)")
        if cls.in_threads:
            params.append("worker threads of one process (no start method)")
        reason = cls.unavailable_reason()
        status = f"  [unavailable: {reason}]" if reason else ""
        print(f"  {cls.name:<15} {cls.description}{status}")
        # its own list, then patterns whose catalogue entry names it (as the sweep runs them)
        named = [p for p in catalogue.CATALOGUE if p not in cls.patterns and takes(cls, p)]
        taken = [*cls.patterns, *named]
        print(f"  {'':<15} patterns: {', '.join(taken)}; {'; '.join(params)}")
    print("patterns:")
    for entry in catalogue.CATALOGUE.values():
        print(f"  {entry.name:<15} {entry.description}")
        if entry.note:
            note = textwrap.fill(
                entry.note, width=100, initial_indent=" " * 18, subsequent_indent=" " * 18
            )
            print(note)
    return 0
