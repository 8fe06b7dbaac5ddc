"""``dissect --parquet``: one row per connection, the JSON fields, readable by pyarrow."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
CAPTURES = DATA / "captures"
FILES = sorted(CAPTURES.glob("*.pcap"))[:5]


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("files", [FILES, FILES[:1]], ids=["many", "one"])
def test_parquet_rows_are_the_json_objects(tmp_path, files):
    pq = pytest.importorskip("pyarrow.parquet")
    keylog = tmp_path / "all.keylog"
    keylog.write_text("".join(p.with_suffix(".keylog").read_text() for p in files
                              if p.with_suffix(".keylog").exists()))
    out = tmp_path / "out.parquet"
    done = run(*files, "--keylog", keylog, "--parquet", out, "--json", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(out).to_pylist()
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(objects) > 0
    for row, obj in zip(rows, objects):
        assert row.pop("capture") == obj.pop("capture", None)
        if row["app_data"] is None:
            row.pop("app_data")
        assert row == obj
    assert any(row.get("app_data") for row in rows) or not any(
        "app_data" in obj for obj in objects)


def test_parquet_without_json_prints_no_ladder(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out.parquet"
    done = run(FILES[0], "--parquet", out)
    assert done.returncode == 0 and done.stdout == ""
    assert pq.read_table(out).num_rows >= 1


def test_parquet_without_pyarrow_is_one_clear_line(tmp_path):
    # A pyarrow that cannot be imported, first on the path.
    fake = tmp_path / "fake"
    (fake / "pyarrow").mkdir(parents=True)
    (fake / "pyarrow" / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    done = run(FILES[0], "--parquet", tmp_path / "out.parquet", env={"PYTHONPATH": str(fake)})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "pyarrow" in done.stderr
    assert "scapy-tls-hs[parquet]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.parquet").exists()
