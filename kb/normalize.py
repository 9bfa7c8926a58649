"""Vietnamese-aware text normalisation for search.

Everything the index compares goes through :func:`fold`: Unicode NFC, lower case, ``đ`` -> ``d``
and diacritics removed, so "Căn cước", "can cuoc" and a decomposed (NFD) "Căn cước" typed on a
phone all become ``"can cuoc"``. :func:`tokens` splits folded text into word tokens (letters and
digits; everything else separates). :func:`content_tokens` additionally drops question phrases and
filler words ("thủ tục", "cần những giấy tờ gì", "như thế nào", "tôi muốn", ...), so that they do
not drown the content words of a citizen's question.

Words such as "lại", "mới", "đổi" are *not* fillers: they tell "cấp lại" from "cấp mới" from
"cấp đổi". "làm" is a filler only where it is the citizen's verb ("làm căn cước"), not in
"làm việc" ("working days", "work permit").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "nfc",
    "fold",
    "fold_word",
    "tokens",
    "content_tokens",
    "bigrams",
    "FILLER_PHRASES",
    "STOP_WORDS",
    "STOP_WORDS_PLAIN",
    "word_pairs",
    "filler_mask",
    "is_stop",
    "is_syllable",
    "teencode_variants",
]

_WORD_RE = re.compile(r"[a-z0-9]+")
_SPACE_RE = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Unicode NFC with runs of whitespace collapsed and the ends stripped (display-safe)."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def fold(text: str) -> str:
    """Lower case without diacritics: ``"Đăng ký KẾT HÔN"`` -> ``"dang ky ket hon"``.

    Punctuation is kept (callers that need words use :func:`tokens`); whitespace is collapsed.
    Works the same for NFC and NFD input.
    """
    if not text:
        return ""
    if text.isascii():  # already folded (or plain ASCII): NFC and _fold_word change nothing but case
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join(map(_fold_word, text.split()))


def fold_word(word: str) -> str:
    """One word (no whitespace) of an NFC, lower-case text as :func:`fold` folds it: ``fold(t)``
    is ``" ".join(map(fold_word, unicodedata.normalize("NFC", t).lower().split()))``."""
    return _fold_word(word)


def tokens(text: str) -> list[str]:
    """Folded word tokens; punctuation and symbols separate words (``"gcn-qsdđ"`` -> gcn, qsdd)."""
    if not text:
        return []
    if text.isascii():  # the same as folding first: only case changes, and spaces separate anyway
        return _WORD_RE.findall(text.lower())
    return _WORD_RE.findall(fold(text))


# Multi-word question phrases, in folded form, removed before single filler words. Longest first
# matters only for readability: removal works on token sequences and tries every phrase.
FILLER_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in sorted(
        {
            "thu tuc",
            "thu tuc hanh chinh",
            "can nhung giay to gi",
            "can giay to gi",
            "nhung giay to gi",
            "giay to gi",
            "can nhung gi",
            "ho so gom nhung gi",
            "ho so gom gi",
            "ho so can gi",
            "can chuan bi gi",
            "can chuan bi nhung gi",
            "nhu the nao",
            "the nao",
            "ra sao",
            "o dau",
            "tai dau",
            "cho nao",
            "bao lau",
            "mat bao lau",
            "bao nhieu ngay",
            "trong bao lau",
            "bao nhieu tien",
            "het bao nhieu",
            "mat bao nhieu",
            "bao nhieu",
            "phi bao nhieu",
            "le phi bao nhieu",
            "co mat phi khong",
            "la gi",
            "nhu nao",
            "lam sao",
            "lam the nao",
            "lam nhu the nao",
            "lam o dau",
            "can lam gi",
            "phai lam gi",
            "cho toi hoi",
            "cho hoi",
            "xin hoi",
            "toi muon",
            "em muon",
            "minh muon",
            "toi can",
            "muon biet",
            "huong dan",
            "quy trinh",
            "cac buoc",
            "trinh tu",
            "co duoc khong",
            "duoc khong",
            "co phai",
            "khong a",
            "vay a",
            "a oi",
            "ad oi",
            "nop ho so",
            "online duoc khong",
            # greetings, thanks and chit-chat: never content ("chào" would match "chào bán")
            "xin chao",
            "chao anh",
            "chao chi",
            "chao em",
            "chao ad",
            "chao admin",
            "chao anh chi",
            "chao buoi sang",
            "chao buoi chieu",
            "cam on",
            "cam on ban",
            "xin cam on",
            "tam biet",
            "hello",
            "hi",
            "alo",
            "thanks",
            "thank you",
            "ok",
            "oke",
            "ban la ai",
            "ban ten gi",
            "ban la bot",
            "ban co khoe khong",
            "co ai khong",
        },
        key=lambda s: -len(s.split()),
    )
)

# Filler words, matched on the accented lower-case form, where the accents make them
# unambiguous ("cần" is a filler, "căn" in "căn cước" is not; "thẻ" is content, "thế" is not).
STOP_WORDS: frozenset[str] = frozenset(
    """
    xin làm cho của tôi muốn cần gì nào thế ở đâu bao lâu như là và thì có không được mình em
    anh chị ạ ơi vậy nhé nha giúp hỏi về với để những các một này đó ai khi phải tại sao ra hay
    hoặc nếu rồi đang sẽ đã bị vào cũng còn nữa nhỉ hả ạ vâng dạ bạn ad admin
    nhiều lắm quá rất
    """.split()
)

# Typed without diacritics a word is often ambiguous once folded ("the" = thẻ/thế, "do" = đỏ/đó,
# "can" = căn/cần, "dang" = đăng/đang, "tu" = tư/từ, "bao" = bảo/báo/bao). Only words whose folded
# form is (almost) never a content word in procedure names are dropped from unaccented input.
STOP_WORDS_PLAIN: frozenset[str] = frozenset(
    """
    xin toi muon gi nao vay nhe nha oi giup cua cho lam duoc khong minh ah a u roi va nhi ha
    vang ad admin
    """.split()
)

# "làm" is content in these pairs (e.g. "giấy phép lao động ... làm việc", "làm con nuôi").
_LAM_KEEP_NEXT = frozenset({"viec", "con", "chu"})

_UWORD_RE = re.compile(r"[^\W_]+")


def word_pairs(text: str) -> list[tuple[str, str]]:
    """``(accented lower-case, folded)`` for each word of ``text``."""
    text = unicodedata.normalize("NFC", text or "").lower()
    out = []
    for w in _UWORD_RE.findall(text):
        f = _fold_word(w)
        # a word such as "gcn-qsdđ" is already split by the regex; folded parts stay alnum
        for part in _WORD_RE.findall(f):
            out.append((w if part == f else part, part))
    return out


# first word -> whether some filler phrase starts with it (a query without any needs no scan)
_FILLER_FIRST: frozenset[str] = frozenset(p[0] for p in FILLER_PHRASES)


def filler_mask(toks: list[str]) -> list[bool]:
    """True where a folded token belongs to a filler phrase ("mat bao lau", "thu tuc", ...)."""
    n = len(toks)
    mask = [False] * n
    starts: dict[str, list[int]] = {}  # where a word that starts some filler phrase occurs
    for i, t in enumerate(toks):
        if t in _FILLER_FIRST:
            starts.setdefault(t, []).append(i)
    if not starts:
        return mask
    for phrase in FILLER_PHRASES:  # in order: a longer phrase claims its words first
        k = len(phrase)
        at = starts.get(phrase[0])
        if at is None or k > n:  # cannot match anywhere: skipping it changes nothing
            continue
        for i in at:
            if i + k <= n and tuple(toks[i : i + k]) == phrase and not any(mask[i : i + k]):
                for j in range(i, i + k):
                    mask[j] = True
    return mask


def is_stop(pairs: list[tuple[str, str]], i: int) -> bool:
    """Whether word ``i`` of ``pairs`` (from :func:`word_pairs`) is a filler word."""
    acc, f = pairs[i]
    if f == "chao":  # a greeting, except in "chào bán" / "chào mua" (securities offers)
        nxt = pairs[i + 1] if i + 1 < len(pairs) else ("", "")
        return not (nxt[0] in ("bán", "mua") or (nxt[0] == nxt[1] and nxt[1] == "mua"))
    stop = (acc in STOP_WORDS) if acc != f else (f in STOP_WORDS_PLAIN)
    if stop and f == "lam" and i + 1 < len(pairs) and pairs[i + 1][1] in _LAM_KEEP_NEXT:
        return False
    return stop


def content_tokens(text: str) -> list[str]:
    """Folded tokens of a question without filler phrases and filler words, order preserved."""
    pairs = word_pairs(text)
    mask = filler_mask([f for _, f in pairs])
    return [f for i, (_, f) in enumerate(pairs) if not mask[i] and not is_stop(pairs, i)]


def bigrams(toks: list[str]) -> list[str]:
    """Adjacent pairs joined with ``_`` (``["can", "cuoc"]`` -> ``["can_cuoc"]``)."""
    return list(map("_".join, zip(toks, toks[1:])))


# A Vietnamese syllable in folded form: optional onset, 1-3 vowels, optional final consonant.
# Words that cannot be Vietnamese ("qwe", "asdkjh", "xyz") are not typo-corrected into
# Vietnamese words: a citizen did not mean one of ours.
_SYLLABLE_RE = re.compile(r"^(?:ngh|ng|nh|ph|th|tr|ch|kh|gh|gi|qu|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?$")


def is_syllable(folded: str) -> bool:
    """Whether a folded word can be a Vietnamese syllable (``"truong"`` yes, ``"qwe"`` no)."""
    return bool(_SYLLABLE_RE.match(folded))


# Chat spellings ("teencode"): f for ph, j for gi, z for d, w for qu/u, k for c, dz for d.
_TEEN_ONSETS = (("f", "ph"), ("j", "gi"), ("z", "d"), ("dz", "d"), ("w", "qu"), ("w", "u"), ("k", "c"))


def teencode_variants(folded: str) -> list[str]:
    """Standard spellings a chat-spelled folded word may stand for (``"fep"`` -> ``["phep"]``)."""
    out = []
    for src, dst in _TEEN_ONSETS:
        if folded.startswith(src) and len(folded) > len(src):
            out.append(dst + folded[len(src):])
    return out
