"""Is a regular expression one Istio can use? Istio (Envoy) compiles `regex` matches with RE2.

Python's `re` accepts syntax RE2 rejects, so a regex that `re.compile` takes can still be
refused by istiod's validation webhook or, worse, by Envoy at runtime. This checker scans the
pattern for Python-only constructs (https://github.com/google/re2/wiki/Syntax, "NOT SUPPORTED")
and returns the first one it finds, or None.
"""

from __future__ import annotations

import re

# RE2 refuses a counted repetition above 1000 (re2/parse.cc, kMaxRepeat).
MAX_REPEAT = 1000
_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}")
_GROUP_PREFIXES = (
    ("(?=", "lookahead (?=...)"),
    ("(?!", "negative lookahead (?!...)"),
    ("(?<=", "lookbehind (?<=...)"),
    ("(?<!", "negative lookbehind (?<!...)"),
    ("(?>", "atomic group (?>...)"),
    ("(?(", "conditional (?(...)...)"),
    ("(?P=", "named backreference (?P=name)"),
    ("(?#", "comment group (?#...)"),
)
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?[:)]")
_RE2_FLAGS = set("imsU")


def unsupported(pattern: str) -> str | None:
    """The first construct of `pattern` that RE2 does not support, or None."""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isdigit() and nxt != "0" and not in_class:
                return f"backreference \\{nxt}"
            if nxt in ("g", "Z"):
                return f"\\{nxt} (Python only; RE2 writes the end of text as \\z)" if nxt == "Z" else "\\g<...>"
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal member, not the end of the class.
            i += 2 if pattern[i + 1 : i + 2] == "]" else 3 if pattern[i + 1 : i + 3] == "^]" else 1
            continue
        if c == "(":
            for prefix, name in _GROUP_PREFIXES:
                if pattern.startswith(prefix, i):
                    return name
            flags = _FLAGS.match(pattern, i)
            if flags and set(flags.group(1) + (flags.group(2) or "")) - _RE2_FLAGS:
                return f"inline flags {flags.group(0)!r} (RE2 knows i, m, s and U)"
        if c in "*+?}" and pattern[i + 1 : i + 2] == "+":
            return f"possessive quantifier {c}+"
        if c == "{":
            repeat = _REPEAT.match(pattern, i)
            if repeat and any(int(g) > MAX_REPEAT for g in repeat.groups() if g):
                return f"repetition {repeat.group(0)} (RE2 allows at most {MAX_REPEAT})"
        i += 1
    return None
