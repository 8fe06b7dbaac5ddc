"""Many captures (and one large one) dissected on a ``concurrent.futures.Executor``.

``dissect_many(paths, ...)`` yields one ``DissectResult`` per file, in the order given, with
``capture`` (the path as given) and ``error`` (None, or the one line saying why the file
could not be dissected: the others still are). Each file is one task on the executor,
streamed (``iter_connections``, in start order: memory grows with the reports, not the
packets), by default on a ``ProcessPoolExecutor`` of ``jobs`` processes (the number of
CPUs); any other executor works as long as it runs module-level functions with picklable
arguments, e.g. Dask's ``Client(...).get_executor()``, which runs them on a cluster. A
single file of ``SPLIT_SIZE`` bytes or more is split by connection over the ``jobs``
processes (``split.py``); smaller ones are not worth starting processes for. On our own
executor the shares stream their reports back through one bounded queue each (given to the
workers when they start), and the parent merges them as they come (``split.Merger``): with
``stream=True`` that file's result is a ``ReportStream`` (the reports as they are merged,
memory flat), else the reports are gathered into a ``DissectResult`` as for any file.

Progress: workers put the bytes they read on a ``multiprocessing.Manager`` queue that the
parent drains into the one bar (``progress.py``) while it waits; only when the bar is on
(stderr is a terminal) and the executor is ours. With another executor the bar moves by
whole files.
"""
import os
import queue as _queue

from ..errors import CaptureError, TLSError
from .dissect import DissectResult
from .split import (KEEP, PROGRESS_STEP, Follower, Logs, Merger, dissect_share, light,
                    merge)

__all__ = ["dissect_many", "expand_paths", "default_jobs", "SPLIT_SIZE", "ReportStream"]

SPLIT_SIZE = 4 << 20
QUEUE_SIZE = 3      # messages (``split.CHUNK`` packets each) a share may be ahead of the merge
SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def default_jobs():
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def expand_paths(paths, skipped=None):
    """Files as given; a folder becomes its capture files (by suffix: ``SUFFIXES``),
    sorted by name. ``skipped`` (a list) receives ``(path, why)`` for what a folder holds
    but is not dissected."""
    out = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        try:
            names = sorted(os.listdir(path))
        except OSError:
            out.append(path)  # reported as the file's error
            continue
        for name in names:
            full = os.path.join(path, name)
            why = None
            if os.path.isdir(full):
                why = "a folder (folders are not searched recursively)"
            elif not name.lower().endswith(SUFFIXES):
                why = "not a capture by its name (%s)" % ", ".join(SUFFIXES)
            if why is None:
                out.append(full)
            elif skipped is not None:
                skipped.append((full, why))
    return out


class _Reporter:
    """Picklable progress callback: puts bytes read on the parent's queue."""

    def __init__(self, queue):
        self.queue = queue

    def __call__(self, nbytes):
        try:
            self.queue.put(nbytes)
        except Exception:  # the parent went away: progress is not worth failing for
            pass


class _Bytes:
    """The progress ``iter_connections`` drives (``phase``/``update`` with the bytes read
    so far/``close``), turned into byte counts for ``report`` (a ``_Reporter``)."""

    enabled = True

    def __init__(self, report):
        self.report = report
        self.sent = self.total = 0

    def phase(self, label, total):
        if label == "reading":
            self.total = total

    def update(self, done):
        if done - self.sent >= PROGRESS_STEP:
            self.report(done - self.sent)
            self.sent = done

    def close(self):
        if self.total > self.sent:
            self.report(self.total - self.sent)
            self.sent = self.total


def _one(path, keylog, server_key, ports, keep, progress):
    """One whole file, streamed (``iter_connections``, in start order): its
    ``DissectResult``, or the error line."""
    from .dissect import iter_connections
    try:
        stream = iter_connections(path, keylog=keylog, server_key=server_key, ports=ports,
                                  progress=_Bytes(progress) if progress else None,
                                  ordered=True)
        reports = [light(report, keep) for report in stream]
        return DissectResult(reports, stream.warnings, stream.records), None
    except (CaptureError, TLSError, OSError) as exc:
        return None, str(exc)


def _size(path):
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return 0


def dissect_many(paths, keylog=None, jobs=None, executor=None, server_key=None, ports=(),
                 keep="all", progress=None, stream=False):
    """Yield a ``DissectResult`` per capture (see the module docstring).

    ``jobs``: the processes of the default executor; with another executor, files in
    flight are at most ``2 * jobs + 2`` (give a cluster's size). ``keylog`` /
    ``server_key`` are paths (read in each worker) and apply to every file;
    ``keep="ladder"`` or ``"json"``: smaller reports, with only what the ladder, or
    ``to_dict()``, needs (``split.light``). ``stream``: a capture split on our own
    processes is yielded as a ``ReportStream`` (iterate it before asking for the next).
    """
    if keep not in KEEP:
        raise ValueError("keep is one of %s, not %r" % (", ".join(KEEP), keep))
    paths = list(paths)
    ports = tuple(ports or ())
    jobs = default_jobs() if jobs is None else max(int(jobs), 1)
    own = queues = None
    if executor is None and jobs > 1:
        # Imported here, not with the module: the one-process command needs none of it.
        import concurrent.futures
        # Imported once here, so that forked workers do not each import it again.
        from ..connection import observer  # noqa: F401
        if len(paths) == 1 and _size(paths[0]) >= SPLIT_SIZE:
            import multiprocessing
            # Each share reads the whole file: more shares than CPUs only repeat that.
            shares = max(min(jobs, default_jobs()), 2)
            queues = [multiprocessing.Queue(QUEUE_SIZE) for _ in range(shares)]
        own = executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, initializer=_worker_start, initargs=(queues,))
    try:
        yield from _run(paths, keylog, server_key, ports, jobs, executor, own, keep,
                        progress, queues, stream)
    except BaseException:
        if own is not None:       # Ctrl-C, or the caller stopped early: no waiting for
            _stop(own)            # a large capture's shares to finish
        raise
    finally:
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.close()


def _worker_start(queues=None):
    """Ctrl-C is the parent's to handle (it stops the workers): no worker traceback.
    ``queues``: one per share of a split capture (``_Send``)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _QUEUES
    _QUEUES = queues


_QUEUES = None


class _Send:
    """Picklable ``send`` of a streamed share: its queue, given to the worker at start."""

    def __init__(self, share):
        self.share = share

    def __call__(self, message):
        _QUEUES[self.share].put(message)


def _stop(pool):
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.terminate()
        except (OSError, AttributeError):
            pass


def _run(paths, keylog, server_key, ports, jobs, executor, own, keep, progress, queues,
         stream):
    manager = None
    reporter = None
    if progress is not None and progress.enabled and own is not None:
        import multiprocessing
        manager = multiprocessing.Manager()
        reporter = _Reporter(manager.Queue())
    try:
        # Our own pool: split when ``dissect_many`` made the shares' queues.
        split = len(paths) == 1 and jobs > 1 and executor is not None and (
            queues is not None if own is not None else _size(paths[0]) >= SPLIT_SIZE)
        if split and own is not None:
            jobs = len(queues)      # the shares (``dissect_many``: at most one per CPU)
        if progress is not None:
            progress.phase("reading", sum(_size(p) for p in paths) * (jobs if split else 1))
        state = {"done": 0}
        if split and own is not None:
            task = _StreamSplit(executor, own, queues, paths[0], keylog, server_key, ports,
                                keep, reporter)
            try:
                result = task.stream(lambda: _drain(reporter, progress, state))
                if not stream:
                    result = result.gather()
                yield result
            finally:
                task.close()
            return
        if executor is None:
            def here(nbytes):
                state["done"] += nbytes
                progress.update(state["done"])
            tasks = [_Here(_one, p, keylog, server_key, ports, keep,
                           here if progress is not None else None) for p in paths]
        elif split:
            tasks = [_Split(executor, paths[0], jobs, keylog, server_key, ports, keep,
                            reporter)]
        else:
            def start(path):
                return _Future(executor.submit(_one, path, keylog, server_key, ports,
                                               keep, reporter))
            tasks = _window(map(start, paths), 2 * jobs + 2)
        for path, task in zip(paths, tasks):
            result, error = task.result(lambda: _drain(reporter, progress, state))
            if progress is not None and reporter is None and executor is not None:
                state["done"] += _size(path)        # no byte counts: whole files
                progress.update(state["done"])
            if error is not None:
                result = DissectResult()
            result.capture = path
            result.error = error
            for report in result:
                report.capture = path
            yield result
    finally:
        if manager is not None:
            manager.shutdown()


def _window(tasks, ahead):
    """The tasks of the iterator ``tasks`` (each submitted as it is drawn), at most
    ``ahead`` submitted and not yet taken: thousands of files do not all wait, done, in
    memory."""
    import collections
    pending = collections.deque()
    for task in tasks:
        pending.append(task)
        if len(pending) >= ahead:
            yield pending.popleft()
    yield from pending


def _drain(reporter, progress, state):
    if reporter is None:
        return
    while True:
        try:
            state["done"] += reporter.queue.get_nowait()
        except _queue.Empty:
            break
        except Exception:
            return
    progress.update(state["done"])


def _wait(futures, tick):
    import concurrent.futures
    pending = set(futures)
    while pending:
        _done, pending = concurrent.futures.wait(pending, timeout=0.1)
        tick()


def _error_line(exc):
    """The file's error line for what its task raised."""
    if isinstance(exc, (CaptureError, TLSError, OSError)):
        return str(exc)
    return _failed(exc)


def _failed(exc):
    """A task that raised (a worker killed, a bug): the file's error line."""
    from concurrent.futures.process import BrokenProcessPool
    if isinstance(exc, BrokenProcessPool):
        return "a worker process died (out of memory?)"
    return "internal error: %s: %s" % (type(exc).__name__, exc)


class _Here:
    """A task run in this process when its result is asked for."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def result(self, tick):
        return self.fn(*self.args)


class _Future:
    def __init__(self, future):
        self.future = future

    def result(self, tick):
        _wait([self.future], tick)
        exc = self.future.exception()
        return (None, _failed(exc)) if exc is not None else self.future.result()


class _Split:
    """One file in ``jobs`` shares (``split.py``)."""

    def __init__(self, executor, path, jobs, keylog, server_key, ports, keep, reporter):
        self.futures = [executor.submit(dissect_share, path, share, jobs, keylog, server_key,
                                        ports, keep, progress=reporter)
                        for share in range(jobs)]
        self.args = (path, keylog, server_key, ports, keep)

    def result(self, tick):
        _wait(self.futures, tick)
        parts = []
        for future in self.futures:
            if future.exception() is not None:
                return None, _error_line(future.exception())
            parts.append(future.result())
        try:
            return merge(parts, *self.args), None
        except (CaptureError, TLSError, OSError) as exc:
            return None, str(exc)


class ReportStream:
    """The reports of one capture split over our processes, in start order, as the parent
    merges them (``dissect_many(stream=True)``). Iterate it once; ``warnings``,
    ``records`` and ``error`` (None, or the line saying why the capture could not be
    dissected to the end: the reports already given stand) are final once it is
    exhausted. ``capture``: the path. ``most_held``: the most reports the merge held."""

    def __init__(self, reports, capture):
        self._reports = reports
        self.capture = capture
        self.error = None
        self.warnings = []
        self.records = 0
        self.most_held = 0

    def __iter__(self):
        return self._reports

    def gather(self):
        """All of it, as a ``DissectResult`` (with ``capture`` and ``error``)."""
        reports = list(self)
        result = DissectResult(reports, self.warnings, self.records)
        result.capture, result.error = self.capture, self.error
        return result


class _StreamSplit:
    """One file in shares that stream their reports (``split.py``), merged here."""

    TICK = 0.1          # seconds between two looks at the workers and the progress bar

    def __init__(self, executor, pool, queues, path, keylog, server_key, ports, keep,
                 reporter):
        self.pool, self.queues, self.path = pool, queues, path
        import tempfile
        self.logdir = tempfile.mkdtemp(prefix="scapy-tls-hs-split-")
        shares = len(queues)
        self.futures = [executor.submit(dissect_share, path, share, shares, keylog,
                                        server_key, ports, keep, progress=reporter,
                                        send=_Send(share), logdir=self.logdir)
                        for share in range(shares)]
        logs = Logs(shares, logdir=self.logdir)
        self.merger = Merger(shares, lambda: Follower(path, keylog, server_key, ports, keep,
                                                       logs), logs)

    def stream(self, tick):
        self.result = ReportStream(self._reports(tick), self.path)
        return self.result

    def _reports(self, tick):
        merger, result = self.merger, self.result
        try:
            yield from self._merged(tick)
        finally:
            # Given up on (an error, Ctrl-C, or the caller stopped iterating): the shares may
            # wait on a full queue forever, and the pool would wait for them at exit.
            if not merger.finished:
                self.close()

    def _merged(self, tick):
        merger, result = self.merger, self.result
        try:
            while not merger.finished:
                share = merger.behind()
                try:
                    message = self.queues[share].get(timeout=self.TICK)
                except _queue.Empty:
                    tick()
                    error = self._failed()
                    if error is not None:
                        result.error = error
                        return
                    continue
                for report in merger.put(share, message):
                    report.capture = self.path
                    yield report
                result.most_held = merger.most_held
        except (CaptureError, TLSError, OSError) as exc:    # dissecting again
            result.error = str(exc)
            return
        tick()
        result.warnings = list(merger.warnings)
        result.records = merger.records

    def _failed(self):
        for future in self.futures:
            if future.done() and future.exception() is not None:
                return _error_line(future.exception())
        return None

    def close(self):
        """Unfinished (an error, or the caller stopped): the shares may wait on a full
        queue forever, so they are stopped."""
        if not self.merger.finished and self.pool is not None:
            _stop(self.pool)
        self.merger.close()
        import shutil
        shutil.rmtree(self.logdir, ignore_errors=True)
