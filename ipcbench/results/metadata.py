"""Machine and software facts recorded beside every run (``<stamp>.meta.json``)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

UTC = timezone.utc  # datetime.UTC is 3.11+
DEPENDENCIES = ("ipcbench", "pyperf", "pandas", "numpy", "matplotlib", "psutil")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine() or "unknown"


def gil_enabled() -> bool:
    """Whether this interpreter runs with the GIL: ``sys._is_gil_enabled()`` where it exists
    (3.13+; a free-threaded build may run without), else True (every earlier CPython)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


def logical_cpus() -> int:
    return os.cpu_count() or 1


def physical_cores() -> int | None:
    try:
        import psutil

        cores: int | None = psutil.cpu_count(logical=False)
        return cores
    except Exception:  # psutil may be unable to tell inside some VMs
        return None


def cpu_freq_mhz() -> float | None:
    raw = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    if raw and raw.isdigit():
        return int(raw) / 1000.0
    match = re.search(r"^cpu MHz\s*:\s*([\d.]+)", _read("/proc/cpuinfo") or "", re.MULTILINE)
    return float(match.group(1)) if match else None


def governor() -> str | None:
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_id() -> str:
    """A stable, readable id: CPU slug + logical CPUs + hash of the host identity.

    The hostname itself is never stored; /etc/machine-id (or the hostname) only feeds the hash.
    """
    identity = _read("/etc/machine-id") or platform.node()
    digest = hashlib.sha256(f"{identity}|{cpu_model()}".encode()).hexdigest()[:8]
    model = re.sub(r"\((r|tm)\)", "", cpu_model().lower())
    slug = re.sub(r"[^a-z0-9]+", "-", model)
    slug = re.sub(r"-(cpu|processor|with|radeon|graphics).*$", "", slug).strip("-")[:32]
    return f"{slug or 'cpu'}-{logical_cpus()}cpu-{digest}"


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in DEPENDENCIES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit() -> str | None:
    """The commit of the ipcbench checkout, if it is one (dirty trees get a '+dirty' suffix)."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def utc_stamp(now: datetime | None = None) -> str:
    """A filesystem-safe UTC timestamp, e.g. 20261128T120501Z."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def collect() -> dict[str, Any]:
    """Everything known about this machine and software, as JSON-ready values."""
    uname = platform.uname()
    return {
        "machine_id": machine_id(),
        "timestamp_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cpus": logical_cpus(),
        "cpu_freq_mhz": cpu_freq_mhz(),
        "governor": governor(),
        "os": uname.system,
        "kernel": uname.release,
        "arch": uname.machine,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "gil_enabled": gil_enabled(),
        "start_method_default": multiprocessing.get_start_method(allow_none=False),
        "start_methods_available": multiprocessing.get_all_start_methods(),
        "versions": versions(),
        "git_commit": git_commit(),
        "loadavg": loadavg(),
        "memory_bytes": _memory_bytes(),
    }


BUSY_SAMPLE_S = 0.25  # how long the CPUs are watched before a run
BUSY_LIMIT_PERCENT = 20.0  # CPU time taken by other programs that makes a machine noisy


def busy_percent(sample_s: float = BUSY_SAMPLE_S) -> float | None:
    """Share of all CPUs in use (by anything) over a short sample, in percent."""
    try:
        import psutil

        return float(psutil.cpu_percent(interval=sample_s))
    except Exception:  # not available here
        return None


def noise_reasons(
    busy: float | None, load: list[float] | None, cpus: int, gov: str | None
) -> list[str]:
    """Why this machine looks noisy for benchmarking (empty: it looks quiet).

    CPU use is sampled right before the run rather than taken from the load average, which a
    previous run of ours would still keep high for minutes."""
    reasons = []
    if busy is not None and busy > BUSY_LIMIT_PERCENT:
        avg = f", load average {load[0]:g}" if load else ""
        reasons.append(f"other programs use {busy:.0f}% of the {cpus} CPUs{avg}")
    if gov and gov != "performance":
        reasons.append(f"CPU frequency governor is '{gov}', not 'performance'")
    return reasons


def noise_warning() -> str | None:
    """One line for the start of a run when the machine looks noisy, else None."""
    reasons = noise_reasons(busy_percent(), loadavg(), logical_cpus(), governor())
    if not reasons:
        return None
    return (
        "this machine looks noisy (" + "; ".join(reasons) + "): expect wider "
        "confidence intervals; close other programs or pin with --placements same"
    )


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None
