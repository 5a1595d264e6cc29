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
    """(parent pid, start time) of ``pid`` from /proc, or None when it is gone (or a zombie: it has exited)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_ray(pid: int, ray_dir: str) -> bool:
    """Ray's own processes: workers and agents retitle themselves ``ray::...``; the others run files of the
    installed ray package (a plain substring test would also match, say, a user or folder named ray)."""
    cmd = _cmdline(pid)
    return cmd.startswith("ray::") or (bool(ray_dir) and ray_dir in cmd)


def ray_descendants(root: int, ray_dir: str = "") -> dict[int, int]:
    """``{pid: start time}`` of the processes below ``root`` that are Ray's (see :func:`_is_ray`)."""
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
        if pid != os.getpid() and _is_ray(pid, ray_dir):  # never itself: its arguments name the ray folder
            out[pid] = starts[pid]
    return out


def _orphans_of_group(group: int, ray_dir: str) -> dict[int, int]:
    """Ray processes left in the driver's process group after it died (re-parented, so not descendants)."""
    out = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            same = os.getpgid(pid) == group and pid != os.getpid()
        except OSError:
            continue
        if same and (st := _stat(pid)) is not None and _is_ray(pid, ray_dir):
            out[pid] = st[1]
    return out


def _watch(driver: int, group: int, ray_dir: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the driver's to handle
    known: dict[int, int] = {}
    os.write(sys.stdout.fileno(), b"ready\n")
    while True:
        known.update(ray_descendants(driver, ray_dir))
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break  # EOF: the driver is gone
    time.sleep(1.0)  # give a clean shutdown a moment to finish on its own
    known.update(
        _orphans_of_group(group, ray_dir)
    )  # what started in the last half second before the driver died
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid, start in known.items() if (st := _stat(pid)) is not None and st[1] == start]
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        if not alive:
            break
        time.sleep(2.0)


def start(driver: int | None = None) -> subprocess.Popen | None:
    """Start the watcher for ``driver`` (this process by default) before Ray starts; keep the returned handle
    open while Ray runs and close its stdin (:func:`stop`) after ``ray.shutdown()``."""
    if not _PROC.is_dir():
        return None
    import ray

    driver = driver or os.getpid()
    ray_dir = os.path.dirname(os.path.abspath(ray.__file__)) + os.sep
    # the watcher uses the standard library only, so it runs as a plain script in isolated mode
    proc = subprocess.Popen(
        [sys.executable, "-I", __file__, str(driver), str(os.getpgid(driver)), ray_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives a kill of the driver's process group
        close_fds=True,
    )
    proc.stdout.readline()  # watching before Ray starts its first process
    return proc


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
    _watch(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
