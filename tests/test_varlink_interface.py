"""The io.attachd.Broker interface description must parse with the scanner of the PyPI
`varlink` package: its client calls GetInterfaceDescription and parses the reply with that
scanner before any call, so a description it rejects makes the daemon unusable from Python."""

import os

import pytest

scanner = pytest.importorskip("varlink.scanner")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARLINK_FILE = os.path.join(ROOT, "Sources", "AttachProtocol", "io.attachd.Broker.varlink")

METHODS = {
    "AddProject", "RemoveProject", "GetProject", "ListProjects", "ListSessions", "EndSession",
    "Announce", "Wait", "Watch", "GetStatus",
}
TYPES = {"Project", "Session", "Event"}
ERRORS = {
    "ProjectNotFound", "ProjectExists", "InvalidProjectName", "InvalidPort", "SessionNotFound",
    "Timeout", "AddressInUse", "ProjectRemoved", "ShuttingDown", "PermissionDenied",
    "MessageTooLarge",
}


@pytest.fixture(scope="module")
def interface():
    with open(VARLINK_FILE, encoding="utf-8") as handle:
        return scanner.Interface(handle.read())


def test_description_parses_with_the_pypi_scanner(interface):
    assert interface.name == "io.attachd.Broker"


def test_every_method_type_and_error_is_declared(interface):
    members = interface.members
    assert METHODS <= {n for n, m in members.items() if isinstance(m, scanner._Method)}
    assert TYPES <= {n for n, m in members.items() if isinstance(m, scanner._Alias)}
    assert ERRORS <= {n for n, m in members.items() if isinstance(m, scanner._Error)}


def test_nullable_fields_are_declared_optional(interface):
    # The PyPI client raises InvalidParameter for a null in a field not declared ?type,
    # so every field the daemon may leave out must be optional.
    project = interface.members["Project"].type
    assert isinstance(project.fields["rendezvousPort"], scanner._Maybe)
    assert isinstance(project.fields["error"], scanner._Maybe)
    session = interface.members["Session"].type
    for field in ("pid", "status", "readyAt", "endedAt", "endReason"):
        assert isinstance(session.fields[field], scanner._Maybe), field
    watch = interface.members["Watch"]
    assert isinstance(watch.out_type.fields["event"], scanner._Maybe)


def test_file_is_utf8_and_ends_with_a_newline():
    # The Swift tests compare InterfaceDescriptions.broker with this file byte for byte.
    with open(VARLINK_FILE, "rb") as handle:
        data = handle.read()
    data.decode("utf-8")
    assert data.endswith(b"\n")


def test_scanner_is_strict_enough_to_matter():
    # A control: the scanner does reject malformed descriptions, so passing it means something.
    with open(VARLINK_FILE, encoding="utf-8") as handle:
        text = handle.read()
    broken = text.replace("method GetStatus() -> (", "method GetStatus() -> (,", 1)
    assert broken != text
    # varlink.scanner reports every malformed description as the built-in SyntaxError; the
    # message names the token it wanted where the stray comma stands.
    with pytest.raises(SyntaxError, match=r"^expected 'identifier'$"):
        scanner.Interface(broken)
