"""--debug lines: a value's line break cannot forge a line of adminkit's own, and a
library's debug log stays off."""

from __future__ import annotations

import logging

import pytest

from adminkit.cli.errors import show_warnings


def test_a_line_break_in_a_value_does_not_start_a_line(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    show_warnings(debug=True)
    try:
        logging.getLogger("adminkit.revq").debug(
            "the ticket system said %s", "no\nerror: account jdoe deleted\r\x1b[2J")
        logging.getLogger("adminkit.revq").warning("a %s", "b\nwarning: forged")
        for name in ("httpx", "httpcore", "ldap3", "paramiko", "urllib3"):
            logging.getLogger(name).debug("library line")
    finally:
        logging.getLogger("adminkit").setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("debug: adminkit.revq: the ticket system said no")
    assert not [line for line in lines[1:] if not line.startswith((" ", "warning: a b"))], err
    assert "\x1b" not in err and "\r" not in err
    assert "library line" not in err
