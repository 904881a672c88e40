"""The app factory for ``openidv serve --workers N``: a worker that dies with its master.

uvicorn's workers are child processes of its supervisor. When the supervisor is killed with SIGKILL it
cannot stop them: they live on, orphaned, holding the listening socket, and a restart fails with "Address
already in use". On Linux a process can ask the kernel for a signal when its parent dies
(``prctl(PR_SET_PDEATHSIG)``); each worker asks for SIGTERM, which uvicorn handles as a graceful shutdown.
Elsewhere a watchdog thread notices the parent's pid change and stops the worker the same way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

from fastapi import FastAPI

from openidv.api.app import create_app

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
#: seconds between the watchdog's looks at the parent pid, where prctl is not available
WATCH_INTERVAL = 1.0


def die_with_parent() -> str:
    """Arrange for SIGTERM when the parent process dies; return how (``prctl`` or ``watchdog``)."""
    parent = os.getppid()
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                how = "prctl"
        except (OSError, AttributeError):  # no libc symbol: fall back to watching
            pass
    if how == "watchdog":
        threading.Thread(target=_watch, args=(parent,), name="openidv-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
    return how


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    log.warning("the server's master process is gone; stopping this worker")
    os.kill(os.getpid(), signal.SIGTERM)


def create_worker_app() -> FastAPI:
    """``create_app`` for a worker process of ``openidv serve --workers N``."""
    die_with_parent()
    return create_app()
