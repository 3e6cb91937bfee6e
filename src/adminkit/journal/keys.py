"""The journal's key: what turns its hash chain into one that cannot be recomputed.

Plain SHA-256 links catch an edit, but someone who rewrites every row can recompute
every hash. Rows are therefore chained with HMAC-SHA256 under a key kept outside the
database: by default a 0600 file in the state folder (`$XDG_STATE_HOME/adminkit/
journal.key`), created on first use; `ADMINKIT_JOURNAL_KEY` may name another place as a
secret reference (`file:/path`, `keyring:service/user`, `env:NAME`). Whoever holds the
key can still rewrite the journal; the anchors (`journal.anchor`) bound that.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from adminkit.core import paths
from adminkit.core.errors import SecretError
from adminkit.core.secrets import resolve

KEY_ENV = "ADMINKIT_JOURNAL_KEY"
MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class JournalKey:
    secret: bytes = field(repr=False)
    source: str  # where it came from, for messages: a path or a reference, never the key

    @property
    def id(self) -> str:
        """A fingerprint that names the key without revealing it (kept in the journal)."""
        return self.mac("adminkit journal key id")[:16]

    def mac(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()


def key_reference() -> str:
    return os.environ.get(KEY_ENV) or f"file:{paths.state_home() / 'journal.key'}"


def load_key(*, create: bool) -> JournalKey | None:
    """The configured key; None if it is a file that does not exist and `create` is off.

    A key file is made on first use (`create`) when nothing is there yet. Other
    references (keyring, env) are read, never made: they are the operator's to set.
    """
    ref = key_reference()
    scheme, _, rest = ref.partition(":")
    if scheme == "file" and not Path(rest).exists():
        if not create:
            return None
        _create_file(Path(rest))
    text = resolve(ref, label="journal key").reveal().strip()
    if len(text) < MIN_KEY_CHARS:
        raise SecretError(f"journal key ({ref}): shorter than {MIN_KEY_CHARS} characters",
                          hint="use 64 hex digits, e.g. from "
                               "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    return JournalKey(secret=text.encode(), source=ref)


def _create_file(path: Path) -> None:
    """Write a new random key, 0600, atomically: two first users never get two keys."""
    paths.private_dir(path.parent)  # 0700, like every folder adminkit makes for its state
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # someone else was first: theirs counts
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
