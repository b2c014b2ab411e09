"""verdict.py - the five verdicts, the result of a case, and the comparison
of what came back with what was sent.

A case ends with a Result: a verdict, one sentence of detail (what was
seen) and, for a failure, a hint (where in the server the cause most
likely is).  Cases return one, or raise Stop with one from deep inside a
helper.

Echoes are compared by compare(): byte for byte in raw mode; in line mode
a reply that differs only in its line ends (LF came back as CR LF, or CR LF
as LF) is NON-STRICT rather than FAIL, since the users of such a server
(telnet, most line-reading clients) do not notice.  Anything else is a
failure, described by where the first difference is and what kind it looks
like (bytes missing at the end, a hole in the middle, a cut at a NUL...),
which is what the hints are chosen from.
"""

import re

PASS = "pass"
FAIL = "fail"
NON_STRICT = "non-strict"
INFO = "info"
UNSUPPORTED = "unsupported"
VERDICTS = (PASS, FAIL, NON_STRICT, INFO, UNSUPPORTED)


class Result:
    """What a case found: verdict, detail, hint (failures), and facts the
    reports may show (a dict of short strings, e.g. the model's)."""

    def __init__(self, verdict, detail, hint="", facts=None):
        assert verdict in VERDICTS, verdict
        self.verdict = verdict
        self.detail = detail
        self.hint = hint
        self.facts = facts or {}


def passed(detail, **facts):
    return Result(PASS, detail, facts=facts)


def failed(detail, hint, **facts):
    return Result(FAIL, detail, hint, facts)


def non_strict(detail, **facts):
    return Result(NON_STRICT, detail, facts=facts)


def info(detail, **facts):
    return Result(INFO, detail, facts=facts)


def unsupported(detail, **facts):
    return Result(UNSUPPORTED, detail, facts=facts)


class Stop(Exception):
    """Raised with a Result to end a case where it stands."""

    def __init__(self, result):
        super().__init__(result.detail)
        self.result = result


def fail_now(detail, hint):
    raise Stop(failed(detail, hint))


# ------------------------------------------------------------ comparing

_CR_BEFORE_LF = re.compile(rb"\r+\n")


def line_ends_folded(data):
    """data with every run of CRs before an LF removed."""
    return _CR_BEFORE_LF.sub(b"\n", bytes(data))


class Diff:
    """How got differs from want.

    kind is one of
      equal        identical
      line-ends    identical once CRs before LFs are removed
      short        got is a proper prefix of want: the end is missing
      hole         got is want with a stretch missing from its middle
      at-nul       got stops, or goes wrong, right at a NUL byte of want
      extra        want is a proper prefix of got: more came back
      changed      anything else
    offset is where the first difference is (bytes into want)."""

    def __init__(self, want, got):
        want, got = bytes(want), bytes(got)
        self.want_len, self.got_len = len(want), len(got)
        self.offset = _first_difference(want, got)
        self.kind = self._classify(want, got)
        self.text = self._describe(want, got)

    def _classify(self, want, got):
        if want == got:
            return "equal"
        if line_ends_folded(want) == line_ends_folded(got):
            return "line-ends"
        i = self.offset
        if i < len(want) and want[i] == 0:
            return "at-nul"
        if got == want[:len(got)]:
            return "short"
        if want == got[:len(want)]:
            return "extra"
        # A hole: what follows the first difference in got is found later
        # in want (the bytes in between were lost).
        probe = got[i:i + 32]
        if len(probe) >= 8 and want.find(probe, i + 1) > i:
            return "hole"
        return "changed"

    def _describe(self, want, got):
        if self.kind == "equal":
            return "identical (%d bytes)" % len(want)
        if self.kind == "line-ends":
            return ("the same bytes except line ends: sent %s, got %s back"
                    % (_ends(want), _ends(got)))
        i = self.offset
        head = "%d of %d bytes came back" % (len(got), len(want))
        if self.kind == "short":
            return head + ": the last %d are missing (after %s)" % (
                len(want) - len(got), show(want[max(0, i - 16):i], 16))
        if self.kind == "extra":
            return "%d bytes came back for %d sent: extra %s" % (
                len(got), len(want), show(got[len(want):], 24))
        if self.kind == "hole":
            j = want.find(got[i:i + 32], i + 1)
            return head + ": %d bytes missing from byte %d on (%s ...)" % (
                j - i, i, show(want[i:j], 16))
        where = "at byte %d: sent %s, got %s" % (
            i, show(want[i:i + 12], 12),
            show(got[i:i + 12], 12) if got[i:i + 12] else "nothing")
        if self.kind == "at-nul":
            return head + ", wrong from the NUL byte on " + where
        return head + ", first difference " + where


def _first_difference(a, b):
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _ends(data):
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    parts = []
    if lf:
        parts.append("%d LF" % lf)
    if crlf:
        parts.append("%d CR LF" % crlf)
    return " and ".join(parts) or "no line end"


def compare(want, got, tolerant):
    """(verdict, Diff) for an echo: PASS when identical; NON_STRICT when
    tolerant and only the line ends differ; else FAIL."""
    d = Diff(want, got)
    if d.kind == "equal":
        return PASS, d
    if tolerant and d.kind == "line-ends":
        return NON_STRICT, d
    return FAIL, d


# ------------------------------------------------------------ showing bytes

_ESCAPES = {0: "\\0", 9: "\\t", 10: "\\n", 13: "\\r", 34: '\\"', 92: "\\\\"}


def show(data, limit=48):
    """Bytes as a quoted C-like string, cut after limit bytes with the
    total given: "abc\\n" or "xxxx..." (8192 bytes)."""
    data = bytes(data)
    out = []
    for b in data[:limit]:
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    text = '"' + "".join(out) + '"'
    if len(data) > limit:
        text += "... (%d bytes)" % len(data)
    return text
