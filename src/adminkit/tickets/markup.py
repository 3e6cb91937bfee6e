"""A note's plain text as the ticket system's own format shows it: literally.

adminkit's notes are plain text that quotes values from outside (a target, a changed
value, a summary taken from a ticket's fields). Where the system reads a comment as
markup, such a value must not become markup of its own: a mention that mails someone, a
link or an image fetched by every reader's browser, bold text that reads as adminkit's.
RT and Zammad take `text/plain` (nothing to do); Jira reads wiki markup; Redmine
Textile (its default text formatting); GLPI 10 reads a follow-up holding any of its
rich-text tags (`<b>`, `<a`, `<img`, a mention's `<span data-user-mention…>`) as HTML;
ServiceNow's journal runs `[code]…[/code]` as HTML.
"""

from __future__ import annotations

import html
import re

# Jira: {noformat} shows its content as it is, but for its own end and, in some
# versions, a mention's `[~name]` (which mails the named user wherever it stands).
_JIRA_FENCE = re.compile(r"\{(noformat)", re.IGNORECASE)
_JIRA_BLOCK = re.compile(r"\{noformat\}\n(.*)\n\{noformat\}", re.DOTALL)
# Redmine (Textile): <pre> shows its content as it is, HTML escaped, and Redmine looks
# for no @mention in it; only a `</pre` inside would end it early.
_PRE_TAG = re.compile(r"<(/?\s*pre)", re.IGNORECASE)
_PRE_BLOCK = re.compile(r"<pre>\n(.*)\n</pre>", re.DOTALL)
# ServiceNow: `[code]` starts HTML in a journal entry (glide.ui.security.allow_codetag)
_SNOW_CODE = re.compile(r"\[(\s*/?\s*code\s*\])", re.IGNORECASE)


def jira_wiki(text: str) -> str:
    """`text` in one {noformat} block, so no character of it is wiki markup: an inner
    `{noformat` and a mention's `[~` get a space (`{ noformat`, `[ ~`) and stay text."""
    body = _JIRA_FENCE.sub(r"{ \1", text).replace("[~", "[ ~")
    return f"{{noformat}}\n{body}\n{{noformat}}"


def jira_text(body: str) -> str:
    """A comment's text as Jira shows it, where the whole body is one {noformat} block
    as `jira_wiki` writes it: the block's content; any other body as written."""
    whole = _JIRA_BLOCK.fullmatch(body)
    return whole.group(1) if whole and not _JIRA_FENCE.search(whole.group(1)) else body


def textile(text: str) -> str:
    """`text` in one <pre> block, so no character of it is Textile, HTML or a mention:
    a `<pre` or `</pre` inside gets a space (`< pre`, `< /pre`) and stays text."""
    body = _PRE_TAG.sub(r"< \1", text)
    return f"<pre>\n{body}\n</pre>"


def textile_text(body: str) -> str:
    """A note's text as Redmine shows it, where the whole body is one <pre> block as
    `textile` writes it: the block's content; any other body as written."""
    whole = _PRE_BLOCK.fullmatch(body.replace("\r\n", "\n"))
    return whole.group(1) if whole and not _PRE_TAG.search(whole.group(1)) else body


def glpi_html(text: str) -> str:
    """`text` as one HTML <pre> block, escaped: GLPI shows it as text, lines and spaces
    kept, and finds no tag, link, image or mention in it."""
    return f"<pre>{html.escape(text, quote=False)}</pre>"


def glpi_text(content: str) -> str:
    """A follow-up's text from its content as GLPI serves it (HTML-escaped as it stores
    it, or not): where it is one block as `glpi_html` writes it, the text; any other
    content unescaped."""
    for form in (content, html.unescape(content)):
        if form.startswith("<pre>") and form.endswith("</pre>") and "<" not in form[5:-6]:
            return html.unescape(form[5:-6])
    return html.unescape(content)


def snow_journal(text: str) -> str:
    """`text` for a journal field: `[code]` and `[/code]` (any case, any spaces) get a
    space after the bracket (`[ code]`), so nothing in a note becomes HTML."""
    return _SNOW_CODE.sub(r"[ \1", text)
