"""Transport registry: backends found by name; an unknown name lists the valid ones.

Adding a transport = one small module with a ``Transport`` subclass + one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib

from ipcbench.errors import IpcbenchError
from ipcbench.transports.base import Channel, Endpoint, Transport

__all__ = ["Channel", "Endpoint", "Transport", "all_transports", "get", "names", "register"]

# module name -> class name, in display order (floors last).
_MODULES: dict[str, str] = {
    "pipe": "PipeTransport",
    "pipe_bytes": "PipeBytesTransport",
    "pipe_oneway": "PipeOnewayTransport",
    "queue": "QueueTransport",
    "simplequeue": "SimpleQueueTransport",
    "joinablequeue": "JoinableQueueTransport",
    "manager_queue": "ManagerQueueTransport",
    "manager_dict": "ManagerDictTransport",
    "manager_list": "ManagerListTransport",
    "faster_fifo": "FasterFifoTransport",
    "zmq_ipc": "ZmqIpcTransport",
    "pipe_oob": "PipeOobTransport",
    "shm_handoff": "ShmHandoffTransport",
    "shm_ring": "ShmRingTransport",
    "sharedctypes": "SharedCtypesTransport",
    "thread_queue": "ThreadQueueTransport",
    "thread_simplequeue": "ThreadSimpleQueueTransport",
    "raw_pipe": "RawPipeTransport",
    "raw_socketpair": "RawSocketpairTransport",
    "memcpy": "MemcpyTransport",
    "pickle_floor": "PickleTransport",
}

_REGISTRY: dict[str, type[Transport]] = {}


def register(cls: type[Transport]) -> type[Transport]:
    """Add a transport class (usable as a decorator by plug-ins)."""
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    if _REGISTRY:
        return
    for module, cls_name in _MODULES.items():
        mod = importlib.import_module(f"ipcbench.transports.{module}")
        register(getattr(mod, cls_name))


def all_transports() -> list[type[Transport]]:
    _load()
    return list(_REGISTRY.values())


def names() -> list[str]:
    return [cls.name for cls in all_transports()]


def get(name: str) -> type[Transport]:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise IpcbenchError(f"unknown transport {name!r}; valid: {', '.join(names())}") from None
