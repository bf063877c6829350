"""The built-in ``secrets`` redactor: API keys, tokens, card numbers and private keys.

Each kind of secret has one rule and a typed placeholder (``[redacted:openai-key]``).
Every pattern runs in linear time: it starts with a literal or a boundary that a run
of its own characters cannot repeat, and a cheap substring test skips a rule whose
literal is absent. Card numbers are redacted only when their digits pass the Luhn
check; private keys from their ``BEGIN`` line through their ``END`` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from memori.core import ConfigurationError

Spans = Iterator[tuple[int, int]]

_KEY_CHAR = "[A-Za-z0-9_-]"
_E = f"(?!{_KEY_CHAR})"


def _starts(literal: str) -> str:
    """``literal`` not preceded by a key character (a token is never matched from its
    middle), written literal first so the regex engine scans for it at C speed."""
    escaped = re.escape(literal)
    return f"{escaped}(?<!{_KEY_CHAR}{escaped})"



@dataclass(frozen=True)
class Rule:
    """One kind of secret: a regex, substrings one of which it needs, the group holding
    the secret (0: the whole match; a label around it stays) or a span finder."""

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()
    group: int = 0
    finder: Callable[[Rule, str], Spans] | None = None

    @property
    def placeholder(self) -> str:
        return f"[redacted:{self.kind}]"

    def may_match(self, text: str) -> bool:
        """A cheap test: False when ``text`` surely holds no secret of this kind."""
        return not self.triggers or any(t in text for t in self.triggers)

    def spans(self, text: str) -> Spans:
        """Where the secrets of this kind lie in ``text``, in order, not overlapping."""
        if self.finder is not None:
            return self.finder(self, text)
        return (m.span(self.group) for m in self.pattern.finditer(text))


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` (spaces and dashes ignored) pass the Luhn check."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit():
        return False
    odd = sum(map(int, digits[-1::-2]))
    even = sum(_DOUBLED[int(d)] for d in digits[-2::-2])
    return (odd + even) % 10 == 0


_ID_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")
_DIGIT_GROUP = re.compile(r"[0-9]+")


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole number: no ASCII letter, digit or ``_``
    touches it, and no decimal point joins it to more digits (``3.1415...``)."""
    before, after = text[max(start - 2, 0):start].rjust(2), text[end:end + 2].ljust(2)
    if before[1] in _ID_CHARS or after[0] in _ID_CHARS:
        return False
    return not (before[1] == "." and before[0] in _DIGITS) and not (
        after[0] == "." and after[1] in _DIGITS)


_SEPARATOR = re.compile(r"[ -]")
_GAP = re.compile(r"[ -]{2,}")
_EDGE = 19 + 6 + 1
"""Characters a card can span at a segment's edge (19 digits, 6 separators), plus one."""


def _card_lengths(parts: list[str]) -> list[int]:
    """Lengths in characters (longest first) of the leading ``parts`` written like a
    card: 13-19 digits as one group, or as groups of 3-6 digits."""
    lengths: list[int] = []
    digits = chars = 0
    for k, part in enumerate(parts):
        if k and not (3 <= len(part) <= 6 and 3 <= len(parts[0]) <= 6):
            break
        digits += len(part)
        chars += len(part) + (k > 0)
        if digits > 19:
            break
        if digits >= 13:
            lengths.append(chars)
    return lengths[::-1]


def _edge_parts(segment: str, *, tail: bool) -> list[str]:
    """The whole digit groups within ``_EDGE`` characters of one end, from that end."""
    edge = segment[-_EDGE:] if tail else segment[:_EDGE]
    parts = _SEPARATOR.split(edge)
    if tail:
        parts.reverse()
    return parts[:-1] if len(edge) < len(segment) else parts


def _card_at_edges(text: str, start: int, end: int) -> Spans:
    """Cards at the start and at the end of one segment ``text[start:end]`` (digit
    groups one separator apart): a prefix or a trailing CVV is left out, and the work
    per segment is bounded whatever its length."""
    segment = text[start:end]
    head_end = start
    for length in _card_lengths(_edge_parts(segment, tail=False)):
        if _stands_alone(text, start, start + length) and luhn_ok(segment[:length]):
            head_end = start + length
            yield start, head_end
            break
    for length in _card_lengths(_edge_parts(segment, tail=True)):
        if end - length > head_end and _stands_alone(text, end - length, end) and luhn_ok(
                segment[len(segment) - length:]):
            yield end - length, end
            break


def _card_spans(rule: Rule, text: str) -> Spans:
    """Card numbers in each run of digits, spaces and dashes, at the edges of its
    segments (the parts of the run that doubled separators split)."""
    for run in rule.pattern.finditer(text):
        pos = run.start()
        for gap in _GAP.finditer(text, run.start(), run.end()):
            yield from _card_at_edges(text, pos, gap.start())
            pos = gap.end()
        yield from _card_at_edges(text, pos, run.end())


_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_PEM_BODY = re.compile(
    r"(?:\s+(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]*={1,2}"
    r"|Proc-Type:[^\n]*|DEK-Info:[^\n]*)(?!\S))*"
)
"""What follows a header with no footer: its base64 lines (a truncated key is still a
key); words of prose after it are no such lines."""


def _pem_spans(rule: Rule, text: str) -> Spans:
    """Each ``BEGIN ... PRIVATE KEY`` block through its footer (or its last key line)."""
    pos = 0
    footerless = False  # once no footer follows a header, none follows a later one
    while (head := rule.pattern.search(text, pos)) is not None:
        foot = None if footerless else _PEM_END.search(text, head.end())
        if foot is None:
            footerless = True
            body = _PEM_BODY.match(text, head.end())
            pos = body.end() if body else head.end()
        else:
            pos = foot.end()
        yield head.start(), pos


def _rule(kind: str, pattern: str, *triggers: str, group: int = 0,
          finder: Callable[[Rule, str], Spans] | None = None) -> Rule:
    return Rule(kind, re.compile(pattern), triggers, group, finder)


RULES: tuple[Rule, ...] = (
    _rule("private-key", r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----", "PRIVATE KEY-----",
          finder=_pem_spans),
    _rule("anthropic-key", _starts("sk-ant-") + "[A-Za-z0-9_-]{20,}", "sk-ant-"),
    _rule("openai-key", _starts("sk-") + "(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-"),
    _rule("stripe-key", f"[rs](?<!{_KEY_CHAR}[rs])k_live_[A-Za-z0-9]{{16,}}", "_live_"),
    _rule("aws-access-key", r"A(?<![A-Za-z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
          "AKIA", "ASIA"),
    _rule("aws-secret-key",
          r"(?i:aws[_ .-]?secret[_ .-]?access[_ .-]?key)[\s\"':=>]{1,8}"
          r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
          "ecret", "ECRET", group=1),
    _rule("github-token",
          _starts("g") + "(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{20,})" + _E,
          "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    _rule("slack-token", _starts("xox") + "[abprs]-[A-Za-z0-9-]{10,}", "xox"),
    _rule("google-api-key", _starts("AIza") + "[A-Za-z0-9_-]{35}" + _E, "AIza"),
    _rule("jwt", _starts("eyJ") + r"[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
          "eyJ"),
    _rule("bearer-token",
          r"earer(?<=\b[Bb]earer)[ \t]+((?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,})",
          "earer", group=1),
    _rule("card", r"[0-9][0-9 -]{11,}[0-9]", finder=_card_spans),
)
"""Applied in this order: specific prefixes before the generic ones they contain."""

KINDS: tuple[str, ...] = tuple(r.kind for r in RULES)


def _replace(text: str, spans: Spans, placeholder: str) -> str:
    """``text`` with each span replaced by ``placeholder`` (the same object if none)."""
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        parts += (text[pos:start], placeholder)
        pos = end
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


class SecretsRedactor:
    """Replaces API keys, tokens, card numbers and private keys with typed placeholders.

    ``kinds`` picks some of :data:`KINDS` (default: all).
    """

    name = "secrets"

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        wanted = set(KINDS if kinds is None else kinds)
        unknown = wanted - set(KINDS)
        if unknown:
            raise ConfigurationError(
                f"unknown secret kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}"
            )
        self.rules = tuple(r for r in RULES if r.kind in wanted)

    def redact(self, text: str) -> str:
        """``text`` with its secrets replaced; the same object when it holds none."""
        for rule in self.rules:
            if rule.may_match(text):
                text = _replace(text, rule.spans(text), rule.placeholder)
        return text

    def __repr__(self) -> str:
        return f"SecretsRedactor(kinds={[r.kind for r in self.rules]!r})"
