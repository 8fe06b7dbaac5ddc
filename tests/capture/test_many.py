"""Many captures on an executor (capture/many.py), and ``dissect CAPTURE... --jobs N``."""
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from scapy_tls_hs.capture import many
from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.many import dissect_many, expand_paths

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
CAPTURES = DATA / "captures"
FILES = sorted(CAPTURES.glob("*.pcap"))[:6]


def run(*args):
    return subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="80"))


def _dicts(results):
    return [[r.to_dict() for r in result] for result in results]


def test_expand_paths_sorts_a_folder_and_says_what_it_skips(tmp_path):
    for name in ("b.pcap", "a.pcapng", "c.pcap.gz", "notes.txt", "x.keylog"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    skipped = []
    got = expand_paths([str(tmp_path), "given.txt"], skipped)
    assert got == [str(tmp_path / n) for n in ("a.pcapng", "b.pcap", "c.pcap.gz")] + [
        "given.txt"]                       # a file named on the command line is always tried
    assert sorted(os.path.basename(p) for p, _why in skipped) == ["notes.txt", "sub",
                                                                   "x.keylog"]
    assert all(why for _p, why in skipped)


@pytest.mark.parametrize("jobs", [1, 2])
def test_dissect_many_equals_dissect_capture_in_file_order(jobs):
    results = list(dissect_many(FILES, jobs=jobs))
    assert [r.capture for r in results] == FILES
    assert [r.error for r in results] == [None] * len(FILES)
    assert _dicts(results) == _dicts(dissect_capture(p) for p in FILES)
    assert all(rep.capture == res.capture for res in results for rep in res)


def test_dissect_many_on_a_thread_pool_with_a_failing_file(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    paths = [FILES[0], bad, tmp_path / "missing.pcap", FILES[1]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(dissect_many(paths, executor=pool))
    assert [r.error is None for r in results] == [True, False, False, True]
    assert str(bad) in results[1].error and "missing.pcap" in results[2].error
    assert _dicts([results[0], results[3]]) == _dicts(dissect_capture(p) for p in FILES[:2])


def test_one_large_capture_is_split_over_the_processes(monkeypatch):
    monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    name = "resume_session_id_openssl"
    path, keylog = CAPTURES / (name + ".pcap"), CAPTURES / (name + ".keylog")
    calls = []
    real = many.dissect_share

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            calls.append((fn, args[1:3]))
            return super().submit(fn, *args, **kwargs)

    with Recording(3) as pool:
        (result,) = dissect_many([path], keylog=keylog, jobs=3, executor=pool)
    assert calls == [(real, (share, 3)) for share in range(3)]
    assert _dicts([result]) == _dicts([dissect_capture(path, keylog=keylog)])


def test_dask_distributed_executor():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = list(dissect_many(FILES, executor=client.get_executor()))
    assert [r.error for r in results] == [None] * len(FILES)
    assert _dicts(results) == _dicts(dissect_capture(p) for p in FILES)


# -- the command line --------------------------------------------------------------------

def _keyed(tmp_path):
    """The bundled captures with their key logs concatenated into one."""
    keylog = tmp_path / "all.keylog"
    keylog.write_text("".join(p.with_suffix(".keylog").read_text() for p in FILES
                              if p.with_suffix(".keylog").exists()))
    return keylog


@pytest.mark.parametrize("fmt", [["--json"], [], ["--json", "--data"]])
def test_cli_jobs_2_prints_what_jobs_1_prints(tmp_path, fmt):
    keylog = _keyed(tmp_path)
    one = run(*FILES, "--keylog", keylog, "--jobs", "1", *fmt)
    two = run(*FILES, "--keylog", keylog, "--jobs", "2", *fmt)
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout and one.stderr == two.stderr
    if "--json" in fmt:
        rows = [json.loads(line) for line in one.stdout.splitlines()]
        want = [(str(p), r.to_dict()) for p in FILES for r in dissect_capture(p, keylog=keylog)]
        for row in rows:
            row.pop("data", None)
        assert [(row.pop("capture"), row) for row in rows] == want
    else:
        heads = [line for line in one.stdout.splitlines() if line.startswith("== ")]
        assert heads == ["== %s ==" % p for p in FILES]


SPLIT_ALWAYS = ("import sys\nfrom scapy_tls_hs.capture import many\nmany.SPLIT_SIZE = 0\n"
                "from scapy_tls_hs.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def run_split(*args):
    return subprocess.run([sys.executable, "-c", SPLIT_ALWAYS, "dissect", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("form", [["--json"], [], ["--data"]])
def test_cli_single_capture_split_prints_what_one_process_prints(form):
    # The split capture's reports are written one by one as the merge gives them
    # (ReportStream): the same bytes as one process, for JSON and for ladders.
    name = "resume_ticket_python"
    args = [CAPTURES / (name + ".pcap"), *form, "--keylog", CAPTURES / (name + ".keylog")]
    split = run_split(*args, "--jobs", "3")
    one = run(*args, "--jobs", "1")
    assert split.returncode == one.returncode == 0
    assert split.stdout == one.stdout and "capture" not in split.stdout
    assert split.stdout.count("#") >= 2 or form == ["--json"]


def test_cli_split_capture_that_cannot_be_read_names_it(tmp_path):
    # Its error is known only once the stream is exhausted: still one line naming the file,
    # and exit status 1.
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all" * 10)
    for form in (["--json"], []):
        out = run_split(bad, *form, "--jobs", "2")
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stdout == "" and "bad.pcap" in out.stderr
        assert out.stderr.count("\n") == 1


def test_cli_folder_errors_and_exit_status(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    for p in FILES[:2]:
        shutil.copy(p, folder / p.name)
    (folder / "README.txt").write_text("hello")
    (folder / "zz_broken.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 3)
    out = run(folder, tmp_path / "missing.pcap", "--json", "--jobs", "2")
    assert out.returncode == 1
    err = out.stderr.splitlines()
    assert any("skipped" in line and "README.txt" in line for line in err)
    assert any("missing.pcap" in line for line in err)
    assert "Traceback" not in out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {row["capture"] for row in rows} >= {str(folder / p.name) for p in FILES[:2]}
    ok = run(folder / FILES[0].name, folder / FILES[1].name, "--json")
    assert ok.returncode == 0


@pytest.mark.parametrize("args", [[FILES[0], "--jobs", "0"],
                                  ["--interface", "lo", "--jobs", "2"],
                                  ["--interface", "lo", "--parquet", "x.parquet"]])
def test_cli_rejects_bad_jobs(args):
    out = run(*args)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and ("--jobs" in out.stderr or "--parquet" in out.stderr)


def test_package_exports_dissect_many():
    import scapy_tls_hs
    assert scapy_tls_hs.dissect_many is dissect_many


def test_one_progress_bar_for_many_files_and_processes(monkeypatch):
    # Through the terminal helper of test_cli_dissect (bar delay 0), split threshold 0.
    from tests import test_cli_dissect as cli_tests
    monkeypatch.setattr(cli_tests, "NO_DELAY", "from scapy_tls_hs.capture import many\n"
                        "many.SPLIT_SIZE = 0\n" + cli_tests.NO_DELAY)
    for argv in (["dissect", *FILES, "--json", "--jobs", "2"],
                 ["dissect", FILES[0], "--json", "--jobs", "2"]):
        stdout, tty = cli_tests._run_with_stderr_on_a_pty(argv)
        assert "reading" in tty and "%" in tty
        assert tty.endswith("\r\x1b[K")
        assert tty.count("\x1b[K") == 1                  # one bar, erased once
        assert stdout == run(*argv[1:], "--jobs", "1").stdout


class _Recorder:
    enabled = True

    def __init__(self):
        self.totals, self.updates, self.closed = [], [], 0

    def phase(self, label, total):
        self.totals.append((label, total))

    def update(self, done):
        self.updates.append(done)

    def close(self):
        self.closed += 1


@pytest.mark.parametrize("paths,jobs,split", [(FILES, 2, False), (FILES[:1], 2, True),
                                              (FILES, 1, False)])
def test_workers_report_the_bytes_they_read(monkeypatch, paths, jobs, split):
    if split:
        monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    bar = _Recorder()
    list(dissect_many(paths, jobs=jobs, progress=bar))
    total = sum(os.path.getsize(p) for p in paths) * (2 if split else 1)
    assert bar.totals == [("reading", total)]
    assert bar.updates == sorted(bar.updates) and bar.updates[-1] == total
    assert bar.closed == 1


def test_files_in_flight_are_bounded():
    submitted = []

    class Counting(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    paths = FILES * 5
    with Counting(2) as pool:
        results = dissect_many(paths, jobs=1, executor=pool)
        first = next(results)
        assert len(submitted) == 2 * 1 + 2            # not all 30 files at once
        rest = list(results)
    assert [r.capture for r in [first] + rest] == paths == submitted
