"""An HTML comment's text as its reader sees it (Zammad's editor writes notes in HTML).

What is quoted (`<blockquote>`) or code (`<pre>`, `<code>`) is shown with `> ` before
each line: someone else's words, or an example, never the writer's own answer (an
approval reads the first line of what the writer said)."""

from __future__ import annotations

from html.parser import HTMLParser

BLOCKS = frozenset({"address", "article", "blockquote", "br", "div", "dd", "dl", "dt",
                    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
                    "section", "table", "td", "th", "tr", "ul"})
QUOTED = frozenset({"blockquote", "pre", "code"})
HIDDEN = frozenset({"script", "style", "head", "title"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quoted = 0
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")
        self.quoted += tag in QUOTED
        self.hidden += tag in HIDDEN

    def handle_endtag(self, tag: str) -> None:
        if tag in QUOTED and self.quoted:
            self.quoted -= 1
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.quoted:
            data = "\n".join(f"> {line}" for line in data.split("\n"))
        self.parts.append(data)


def html_text(html: str) -> str:
    """The text of `html`, one line per block, quotes and code marked `> `."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    return "\n".join(line for line in lines if line)
