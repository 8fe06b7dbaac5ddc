"""The transition tables are consistent with themselves and with the role handlers."""
import pytest

from scapy_tls_hs.connection import states


@pytest.mark.parametrize("role", ["client", "server"])
def test_every_target_is_a_state(role):
    table = states.TABLES[role]
    for state, message, target in states.edges(role):
        assert target in table, "%s: %s --%s--> unknown %s" % (role, state, message, target)


@pytest.mark.parametrize("role", ["client", "server"])
def test_every_state_but_start_and_closed_is_reachable(role):
    targets = {t for _, _, t in states.edges(role)}
    for state in states.TABLES[role]:
        if state not in (states.START, states.CLOSED, states.EXPECT_CLIENT_HELLO,
                         states.EXPECT_SERVER_HELLO):      # entered by start()
            assert state in targets, state


@pytest.mark.parametrize("role", ["client", "server"])
def test_every_message_has_a_handler(role):
    from scapy_tls_hs.connection.client import ClientConnection
    from scapy_tls_hs.connection.server import ServerConnection
    cls = ClientConnection if role == "client" else ServerConnection
    for _, message, _ in states.edges(role):
        if message in (states.APP,):
            continue
        assert hasattr(cls, "_on_" + message), message


def test_nothing_allowed_when_closed():
    assert states.allowed("client", states.CLOSED) == []
    assert states.allowed("server", states.CLOSED) == []
    assert states.allowed("server", states.EXPECT_CLIENT_HELLO) == ["client_hello"]


def test_diagram_is_drawn_from_the_table():
    text = states.mermaid("server")
    assert text.startswith("stateDiagram-v2")
    assert "EXPECT_CLIENT_HELLO --> EXPECT_CHANGE_CIPHER_SPEC: client_hello" in text
    assert text.count("-->") == len(list(states.edges("server")))
