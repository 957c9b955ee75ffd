"""Loading stored programs before a process asks for them.

A warm process spends most of its first train step loading stored programs one by one as the
step reaches them (ResNet18: 27 programs, 0.5-0.6 s), while its imports and model building
(about 1.5 s of Python and numpy on one core) leave the other core idle. JAX lets go of the GIL
while it loads an executable, so a thread started at ``import tape`` loads, in order, the
programs that the last process run from the same script used (tape._program_store keeps their
names); the step then finds them loaded. A program the step reaches before the thread does is
loaded by the step as before, so a wrong guess costs only the other core's time. The thread
then prunes the store (``tape._program_store.prune``), at most once a day.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from concurrent.futures import Future

from tape import _program_store as store

_REMEMBERED = 256  # names kept per script: a ResNet18 step uses 27
_worker: threading.Thread | None = None
_started_with: list = []
_stopping = threading.Event()  # set at exit: a prune not begun by then is left for later


def start() -> None:
    """Load the programs this script's last run used, on a background thread, which then
    prunes the store (``tape._program_store.prune``)."""
    global _worker, _started_with
    path = _list_path()
    if path is None:
        return
    names = _started_with = _read_names(path)
    folder = os.path.dirname(path)
    futures = {name: Future() for name in names}
    store.prefetched.update(futures)

    def work() -> None:
        for name, future in futures.items():
            if future.set_running_or_notify_cancel():  # False: taken by the step or at exit
                future.set_result(store.load_file(os.path.join(folder, name + ".xla"), name))
        if not _stopping.is_set():
            store.prune()

    _worker = threading.Thread(target=work, name="tape-program-prefetch", daemon=True)
    _worker.start()


def wait() -> None:
    """Block until the loads and the prune are done: a benchmark's timed runs must not share
    the cores (and the GIL) with them."""
    if _worker is not None:
        _worker.join()


def finish() -> None:
    """At exit: stop loading (a load still running when JAX tears down could crash it), and
    keep this process's programs for the next run of its script."""
    _stopping.set()
    for future in list(store.prefetched.values()):
        future.cancel()
    if _worker is not None:
        _worker.join()
    names = list(dict.fromkeys(store.used))[:_REMEMBERED]
    path = _list_path()
    if path and names and names != _started_with:
        store.write_checked(path, os.path.basename(path), json.dumps(names).encode())


def _list_path() -> str | None:
    folder = store.store_dir()
    if folder is None:
        return None
    script = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    if os.path.isfile(script):
        script = os.path.abspath(script)
    return os.path.join(folder, "prefetch-" + hashlib.sha256(script.encode()).hexdigest())


def _read_names(path: str) -> list:
    body = store.read_checked(path, os.path.basename(path))
    try:
        names = json.loads(body) if body else []
    except ValueError:
        return []
    ok = isinstance(names, list) and all(isinstance(n, str) and n.isalnum() for n in names)
    return names[:_REMEMBERED] if ok else []
