"""One capture split by connection (capture/split.py): the same reports as one process."""
import pathlib

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.split import dissect_share, merge, share_of

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
CAPTURES = DATA / "captures"
BUNDLED = sorted(p for p in DATA.rglob("*") if p.suffix in (".pcap", ".pcapng"))


def _keys(path):
    base = path.with_suffix("")
    keylog = base.with_suffix(".keylog")
    server_key = base.with_suffix(".server.key")
    return (keylog if keylog.exists() else None,
            server_key if server_key.exists() else None)


def _split(path, shares, keylog=None, server_key=None):
    parts = [dissect_share(path, s, shares, keylog, server_key) for s in range(shares)]
    return merge(parts, path, keylog, server_key), parts


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
@pytest.mark.parametrize("shares", [2, 3, 5])
def test_split_equals_one_process(path, shares):
    keylog, server_key = _keys(path)
    for log in {keylog, None}:
        one = dissect_capture(path, keylog=log, server_key=server_key)
        got, _parts = _split(path, shares, log, server_key)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
        assert got.warnings == one.warnings and got.records == one.records
        assert [r.ladder for r in got] == [r.ladder for r in one]


def test_shares_do_not_overlap_and_cover_everything():
    path = DATA / "dissect" / "proxies_curl.pcap"
    one = dissect_capture(path)
    _got, parts = _split(path, 3)
    seen = [(r.client, r.server) for p in parts for _s, _k, r in p["reports"]]
    assert sorted(seen) == sorted((r.client, r.server) for r in one)
    for n, part in enumerate(parts):
        assert all(share_of(key, 3) == n for _s, key, _r in part["reports"])


@pytest.mark.parametrize("name", ["resume_session_id_openssl", "resume_ticket_python"])
def test_resumed_connection_in_another_share_is_dissected_again(tmp_path, name):
    # Only the full handshake's key log line: the resumed connection needs the master
    # secret the first connection taught its share.
    lines = (CAPTURES / (name + ".keylog")).read_text().splitlines()
    keylog = tmp_path / "first.keylog"
    keylog.write_text(next(line for line in lines if line.startswith("CLIENT_RANDOM")) + "\n")
    path = CAPTURES / (name + ".pcap")
    one = dissect_capture(path, keylog=keylog)
    assert [(r.resumed, r.decrypted) for r in one] == [(False, True), (True, True)]
    apart = 0
    for shares in (2, 3, 5, 7):
        got, parts = _split(path, shares, keylog)
        owners = {r.resumed: n for n, p in enumerate(parts) for _s, _k, r in p["reports"]}
        if owners[True] != owners[False]:
            apart += 1
            first_try = [r for p in parts for _s, _k, r in p["reports"] if r.resumed]
            assert not first_try[0].decrypted          # its share lacked the secret
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
    assert apart                                       # the case was exercised
