"""Stops the local Ray instance a sweep started when the sweep's process ends, however it ends.

Ray leaves some of its processes (its dashboard and runtime-env agents) running when the driver that started
it is killed (``kill -9``, out of memory). The driver therefore starts this small watcher in its own session,
connected by a pipe: every second it notes the driver's Ray processes (descendants whose command line names
Ray), and when the pipe closes (the driver exited or died) it ends those still alive. Linux only (it reads
``/proc``); elsewhere it is not started.

Example:
    >>> from traindx.experiments.backends.reaper import ray_descendants
    >>> isinstance(ray_descendants(1), dict)
    True
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of ``pid`` from /proc, or None when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ray_descendants(root: int) -> dict[int, int]:
    """``{pid: start time}`` of the processes below ``root`` whose command line names Ray."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            children.setdefault(st[0], []).append(int(entry.name))
            starts[int(entry.name)] = st[1]
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if "ray" in _cmdline(pid).lower():
            out[pid] = starts[pid]
    return out


def _watch(driver: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the driver's to handle
    known: dict[int, int] = {}
    while True:
        known.update(ray_descendants(driver))
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break  # EOF: the driver is gone
    time.sleep(1.0)  # give a clean shutdown a moment to finish on its own
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid, start in known.items() if (st := _stat(pid)) is not None and st[1] == start]
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        if not alive:
            break
        time.sleep(2.0)


def start(driver: int | None = None) -> subprocess.Popen | None:
    """Start the watcher for ``driver`` (this process by default); keep the returned handle open while Ray
    runs and close its stdin (:func:`stop`) after ``ray.shutdown()``."""
    if not _PROC.is_dir():
        return None
    # the watcher uses the standard library only, so it runs as a plain script in isolated mode
    return subprocess.Popen(
        [sys.executable, "-I", __file__, str(driver or os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives a kill of the driver's process group
        close_fds=True,
    )


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Close the pipe (the watcher then ends what Ray left) and wait for the watcher to exit."""
    if proc is None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()


if __name__ == "__main__":
    _watch(int(sys.argv[1]))
