"""Hypothesis strategies shared by the tests: random patterns of the supported regex syntax and
strings biased toward the characters those patterns use."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters that appear literally: ASCII, Latin-1, CJK, emoji (4-byte UTF-8).
LITERALS = list("abcxyzAZ019_ -\"'") + ["é", "ß", "日", "本", "🎉", "😀"]
ESCAPED = [r"\.", r"\*", r"\+", r"\?", r"\(", r"\)", r"\[", r"\]", r"\{", r"\}", r"\|", r"\\",
           r"\n", r"\t", r"\x41", r"\u00e9", r"\u65e5", r"\U0001F389", r"\/", r"\""]
SHORTHANDS = [r"\d", r"\w", r"\s", r"\D", r"\W", r"\S"]
CLASSES = ["[abc]", "[a-z]", "[^a-c]", "[^\"\\\\]", r"[\d_]", r"[^\w]", "[-a]", "[a-]", "[]a]",
           "[à-ÿ]", "[日-本]", "[^日]", "[😀-🙏]", r"[\s\S]", "[^\\n]", r"[\x00-\x1f]", "[.]"]
STRING_ALPHABET = (LITERALS + ["\n", "\t", "A", "Z", "0", "5", "9", ".", "*", "(", "\\", "/",
                                "ü", "本", "🙂", "\x00", "\x1f", " ", "\u2028", "Ⅷ", "٣"])


def _atoms() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(LITERALS), st.sampled_from(ESCAPED), st.sampled_from(SHORTHANDS),
                     st.sampled_from(CLASSES), st.just("."))


QUANTIFIERS = ["*", "+", "?", "{2}", "{0,2}", "{1,3}", "{2,}", "{,2}"]


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    group = st.tuples(st.sampled_from(["(?:", "("]), children).map(lambda t: f"{t[0]}{t[1]})")
    quantified = st.tuples(group | _atoms(), st.sampled_from(QUANTIFIERS), st.booleans()).map(
        lambda t: t[0] + t[1] + ("?" if t[2] else ""))
    concat = st.lists(children, min_size=2, max_size=4).map("".join)
    alternation = st.lists(children, min_size=2, max_size=3).map("|".join)
    return st.one_of(group, quantified, concat, alternation)


def patterns() -> st.SearchStrategy[str]:
    """Random patterns of the syntax decoding.compile supports, with optional flags/anchors."""
    body = st.recursive(_atoms(), _extend, max_leaves=8)
    return st.tuples(st.sampled_from(["", "", "(?i)", "(?s)"]), st.booleans(), body,
                     st.booleans()).map(
        lambda t: t[0] + ("^" if t[1] else "") + t[2] + ("$" if t[3] else ""))


def strings_for(pattern: str) -> st.SearchStrategy[str]:
    """Short strings over the pattern's own characters plus a fixed set of extras, and strings
    that hypothesis builds to match the pattern (so that matches are well represented)."""
    alphabet = sorted(set(pattern) | set(STRING_ALPHABET))
    noise = st.text(alphabet=st.sampled_from(alphabet), max_size=10)
    try:
        matching = st.from_regex(pattern, fullmatch=True)
        matching.validate()
    except Exception:  # a pattern the `re`-based generator cannot read: noise only
        return noise
    return st.one_of(noise, matching.filter(lambda s: len(s) <= 24))
