"""Text from outside shown, not obeyed: the characters a terminal or a reader's screen
would act on (controls, bidirectional overrides) or not show at all, as escapes."""

from __future__ import annotations

# Characters a terminal obeys instead of showing: C0 but newline and tab, DEL, C1, and the
# bidirectional overrides that reorder what is shown. Text from outside (tickets, the
# directory, CSV files, playbooks, the journal) shows them as \x1b or \u202e instead:
# `ESC]52;…` would write the operator's clipboard, `ESC[2J` clear the screen.
_UNSEEN = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
# and what shows as nothing at all: zero-width spaces and joiners, the word joiner and
# invisible operators, the BOM, the soft hyphen, line and paragraph separators (`jnovak`
# and `jno\u200bvak` look alike; U+2028 breaks a line in some terminals)
_BIDI += [0x00AD, *range(0x200B, 0x200E), 0x2028, 0x2029, *range(0x2060, 0x2065), 0xFEFF]
VISIBLE = {c: f"\\x{c:02x}" for c in _UNSEEN} | {c: f"\\u{c:04x}" for c in _BIDI}


# What JSON does not escape itself (it escapes U+0000-U+001F), as JSON escapes: the same
# text for a program, nothing a terminal obeys for a person.
JSON_UNSEEN = {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0), *_BIDI)}


def visible(text: str) -> str:
    """`text` with every terminal control character shown, not obeyed."""
    return text.translate(VISIBLE)


def flat(value: object) -> str:
    """`value` on one line as it is: `visible`, and a newline or tab as `\\n`, `\\t`.
    For a value put into a line of text meant for others (a ticket note), where a line
    it started of its own making ("ok: …") would read as adminkit's."""
    return visible(str(value)).translate(_LINES)


_LINES = {0x0A: "\\n", 0x09: "\\t"}
