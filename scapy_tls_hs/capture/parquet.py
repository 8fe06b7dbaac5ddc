"""``dissect --parquet FILE``: one row per connection, the ``dissect --json`` fields as columns.

pyarrow is an optional extra (``pip install 'scapy-tls-hs[parquet]'``), imported only here.
The schema is fixed (not inferred per batch), so the rows of a day of captures written in
batches, or files written on different days, read back as one table in pandas, DuckDB or
Spark: ``messages`` and ``errors`` are lists of strings, ``app_data`` a struct (null when not
decrypted), ``capture`` the file's path (null for a single capture), and a field this module
does not know yet is a JSON string.
"""
import json

from ..errors import TLSError
from .dissect import FIELDS

__all__ = ["ParquetTable", "schema"]

_BOOL = ("resumed", "client_auth", "extended_master_secret", "hello_retry", "decrypted")
_INT = ("key_updates",)
_LISTS = ("messages", "errors")


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise TLSError("--parquet needs pyarrow, which is not installed: "
                       "pip install 'scapy-tls-hs[parquet]'") from None
    return pyarrow


def schema(pa=None):
    """The Arrow schema of the rows: ``capture``, then the ``dissect --json`` fields."""
    pa = pa or _pyarrow()
    app_data = pa.struct([("client_bytes", pa.int64()), ("client_sha256", pa.string()),
                          ("server_bytes", pa.int64()), ("server_sha256", pa.string())])
    cols = [("capture", pa.string())]
    for name in FIELDS:
        if name in _BOOL:
            kind = pa.bool_()
        elif name in _INT:
            kind = pa.int64()
        elif name in _LISTS:
            kind = pa.list_(pa.string())
        elif name == "app_data":
            kind = app_data
        else:
            kind = pa.string()
        cols.append((name, kind))
    return pa.schema(cols)


class ParquetTable:
    """``write(reports, capture)`` per capture, ``close()`` at the end."""

    def __init__(self, path):
        self.pa = _pyarrow()
        self.path = path
        self.schema = schema(self.pa)
        try:
            self.writer = self.pa.parquet.ParquetWriter(path, self.schema)
        except OSError as exc:
            raise TLSError("cannot write --parquet %s: %s" % (path, exc)) from None
        self.rows = 0

    def write(self, reports, capture=None):
        rows = [self.row(report, capture) for report in reports]
        if rows:
            self.writer.write_table(self.pa.Table.from_pylist(rows, schema=self.schema))
            self.rows += len(rows)

    def row(self, report, capture=None):
        out = report.to_dict()
        out.setdefault("app_data", None)
        out["capture"] = capture
        for name, value in out.items():
            if self.schema.field(name).type == self.pa.string() and not (
                    value is None or isinstance(value, str)):
                out[name] = json.dumps(value)
        return out

    def close(self):
        self.writer.close()
