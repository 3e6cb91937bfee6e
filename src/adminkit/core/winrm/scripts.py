"""PowerShell scripts as packaged files, and the fixed frame that runs them on a host.

A script is a `.ps1` file inside a package, one per operation, whose first line names
it: `# adminkit-op: <domain>.<op>`. It starts with `param($p)` and returns one object
(a hashtable: arrays alone would be unrolled by PowerShell); it never calls `exit`.

What travels: the command line is always the same short bootstrap (below, sent as
`-EncodedCommand`); the script text and the parameters follow on stdin as two base64
lines, the parameters as UTF-8 JSON. So no value from a person is ever part of any
script text or command line, and neither size is bound by cmd.exe's 8,191 characters.
The bootstrap runs the script in try/catch and writes one line `#adminkit-result:`
+ base64(UTF-8 JSON) to stdout: `{"ok": true, "result": …}` or `{"ok": false, "error":
{"message", "id", "category"}}`. Base64 keeps the answer clear of the console code page.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

RESULT_MARK = "#adminkit-result:"
OP_LINE = re.compile(r"\A# adminkit-op: ([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\r?\n")
SCRIPT_NAME = re.compile(r"\A[a-z][a-z0-9_]*\Z")
STDIN_CHUNK = 48 << 10  # bytes of stdin per Send: well inside WinRM's 500 kB envelope

BOOTSTRAP = """\
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$u = New-Object System.Text.UTF8Encoding $false
$in = @($input)
$s = $u.GetString([Convert]::FromBase64String($in[0]))
$p = $u.GetString([Convert]::FromBase64String($in[1])) | ConvertFrom-Json
try {
    $r = & ([ScriptBlock]::Create($s)) $p
    $o = @{ ok = $true; result = $r }
} catch {
    $o = @{ ok = $false; error = @{ message = [string]$_.Exception.Message;
        id = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category } }
}
$j = ConvertTo-Json -InputObject $o -Depth 12 -Compress
[Console]::Out.WriteLine('#adminkit-result:' + [Convert]::ToBase64String($u.GetBytes($j)))
if ($o.ok) { exit 0 } else { exit 1 }
"""


def encoded(script: str) -> str:
    """`script` as powershell.exe's -EncodedCommand wants it: base64 of UTF-16LE."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


COMMAND = "powershell.exe"
ARGUMENTS = ("-NoProfile", "-NonInteractive", "-EncodedCommand", encoded(BOOTSTRAP))


@dataclass(frozen=True)
class Script:
    """One packaged operation: `op` (`printing.printer_list`) and its text."""

    op: str
    text: str


@lru_cache(maxsize=256)
def load_script(package: str, name: str) -> Script:
    """The script `name`.ps1 shipped in `package` (`adminkit.printing.scripts`)."""
    if not SCRIPT_NAME.match(name):
        raise UsageError(f"no such script: {name!r}")
    from importlib import resources  # here: deploy's settings import this package on every run

    try:
        text = (resources.files(package) / f"{name}.ps1").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise UsageError(f"no script {name}.ps1 in {package}") from None
    found = OP_LINE.match(text)
    if found is None:
        raise UsageError(f"{package}/{name}.ps1 does not start with `# adminkit-op: "
                         "<domain>.<op>`")
    return Script(found.group(1), text)


def _reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"{type(value).__name__} is not JSON")


def params_json(params: Mapping[str, Any]) -> bytes:
    """The parameters as UTF-8 JSON; a `Secret` goes in as its value (only here)."""
    return json.dumps(dict(params), default=_reveal, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def stdin_payload(script: Script, params: Mapping[str, Any]) -> bytes:
    """What the bootstrap reads: the script and the parameters, a base64 line each."""
    return (base64.b64encode(script.text.encode("utf-8")) + b"\r\n"
            + base64.b64encode(params_json(params)) + b"\r\n")


def parse_payload(data: bytes) -> tuple[str, dict[str, Any]]:
    """The far side of `stdin_payload` (what the bootstrap does; the fake uses it)."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    if len(lines) < 2:
        raise ValueError("stdin holds no script and parameter lines")
    script = base64.b64decode(lines[0].strip(), validate=True).decode("utf-8")
    params = json.loads(base64.b64decode(lines[1].strip(), validate=True).decode("utf-8"))
    if not isinstance(params, dict):
        raise ValueError("the parameters are not a JSON object")
    return script, params


def result_line(outcome: Mapping[str, Any]) -> bytes:
    """The line the bootstrap writes (the fake writes the same)."""
    data = json.dumps(outcome, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return RESULT_MARK.encode("ascii") + base64.b64encode(data) + b"\r\n"


def find_result(stdout: bytes) -> dict[str, Any] | None:
    """The bootstrap's answer in `stdout` (the last marked line), or None."""
    mark = RESULT_MARK.encode("ascii")
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith(mark):
            try:
                value = json.loads(base64.b64decode(line[len(mark):], validate=True))
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
