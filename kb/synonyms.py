"""Citizens' words and abbreviations -> official terms (data in ``kb/data/synonyms.yaml``).

The file format is documented at the top of the YAML file. :class:`Synonyms` finds the entries
whose ``match`` phrases occur in a query and returns the official words to add, each with its
weight. Matching is accent-aware: an accented query word must carry the same accents as the
phrase ("mất" matches "mất", not "mặt"), an unaccented one matches by its folded form only
(a citizen typing "mat" may mean either).

Command line: ``python -m kb.synonyms check`` lists expansion words that no bundled procedure
name uses (they cannot help ranking).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from .normalize import word_pairs

__all__ = ["SynonymEntry", "Synonyms", "SynonymError", "Expansion", "DEFAULT_PATH", "load_synonyms"]

DEFAULT_PATH = Path(__file__).parent / "data" / "synonyms.yaml"
DEFAULT_WEIGHT = 0.8


class SynonymError(ValueError):
    """The synonym file is malformed; the message names the entry."""


Phrase = tuple[tuple[str, str], ...]  # ((accented, folded), ...)


@dataclass(frozen=True)
class SynonymEntry:
    match: tuple[Phrase, ...]
    expand: tuple[tuple[str, ...], ...]  # folded token sequences
    weight: float = DEFAULT_WEIGHT
    note: str = ""
    respell: Phrase = ()  # a misspelling: the matched words are replaced by these, before other entries


@dataclass(frozen=True)
class Expansion:
    """One applied entry: which query positions it covered and what it adds."""

    start: int
    end: int  # exclusive
    phrases: tuple[tuple[str, ...], ...]
    weight: float


def _phrase(text: str) -> Phrase:
    return tuple(word_pairs(text))


class Synonyms:
    def __init__(self, entries: Iterable[SynonymEntry]):
        self.entries = tuple(entries)
        # first folded token -> [(phrase, entry)], longest phrases first
        self._by_first: dict[str, list[tuple[Phrase, SynonymEntry]]] = {}
        self._respell_first: dict[str, list[tuple[Phrase, SynonymEntry]]] = {}
        for e in self.entries:
            index = self._respell_first if e.respell else self._by_first
            for ph in e.match:
                if ph:
                    index.setdefault(ph[0][1], []).append((ph, e))
        for lst in (*self._by_first.values(), *self._respell_first.values()):
            lst.sort(key=lambda pe: -len(pe[0]))

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_data(cls, data: Any, source: str = "<synonyms>") -> "Synonyms":
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise SynonymError(f"{source}: expected a mapping with an 'entries' list")
        entries = []
        for i, raw in enumerate(data["entries"], 1):
            where = f"{source}: entry {i}"
            if not isinstance(raw, dict):
                raise SynonymError(f"{where}: must be a mapping")
            unknown = set(raw) - {"match", "expand", "weight", "note", "respell"}
            if unknown:
                raise SynonymError(f"{where}: unknown key {sorted(unknown)[0]!r}")
            match, expand = raw.get("match"), raw.get("expand")
            if not isinstance(match, list) or not match or not isinstance(expand, list) or not expand:
                raise SynonymError(f"{where}: 'match' and 'expand' must be non-empty lists")
            weight = raw.get("weight", DEFAULT_WEIGHT)
            if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
                raise SynonymError(f"{where}: weight must be a number in (0, 1]")
            m = tuple(p for p in (_phrase(str(x)) for x in match) if p)
            x = tuple(tuple(f for _, f in _phrase(str(y))) for y in expand)
            if not m or not all(x):
                raise SynonymError(f"{where}: a phrase has no words")
            respell = raw.get("respell", False)
            if not isinstance(respell, bool) or (respell and len(expand) != 1):
                raise SynonymError(f"{where}: respell must be true or false, with one 'expand' phrase")
            entries.append(SynonymEntry(m, x, float(weight), str(raw.get("note", "")),
                                        _phrase(str(expand[0])) if respell else ()))
        return cls(entries)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "Synonyms":
        with open(path, encoding="utf-8") as fh:
            return cls.from_data(yaml.safe_load(fh), str(path))

    def respell(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``pairs`` with the misspellings of the ``respell`` entries written right ("tạm chú" ->
        "tạm trú", "hộ chiu" -> "hộ chiếu"), so that the other entries and the index see the words
        the citizen meant."""
        if not self._respell_first:
            return pairs
        out: list[tuple[str, str]] = []
        i, n = 0, len(pairs)
        while i < n:
            for ph, entry in self._respell_first.get(pairs[i][1], ()):
                k = len(ph)
                if i + k <= n and _phrase_matches(pairs[i : i + k], ph):
                    out.extend(entry.respell)
                    i += k
                    break
            else:
                out.append(pairs[i])
                i += 1
        return out

    def _names_another(self, pairs: list[tuple[str, str]], end: int, entry: SynonymEntry, phrase: Phrase) -> bool:
        """Whether a phrase ending in a bare "sổ" / "giấy" / "thẻ" ("mất sổ", "làm sổ") is followed
        by another entry's phrase ("mất sổ bhxh", "cấp sổ bảo hiểm xã hội"): that phrase names
        another paper, so this entry (written for the land certificate) does not apply. Any other
        word after it ("mất sổ rồi", "chưa có sổ, cháu muốn …", "tách sổ đỏ") leaves it alone."""
        if phrase[-1][0] not in _BARE_HEADS or end >= len(pairs):
            return False
        return any(other is not entry and end + len(ph) <= len(pairs) and _phrase_matches(pairs[end : end + len(ph)], ph)
                   for ph, other in self._by_first.get(pairs[end][1], ()))

    def find(self, pairs: list[tuple[str, str]], skip: list[bool] | None = None) -> list[Expansion]:
        """Non-overlapping matches in ``pairs`` (from :func:`kb.normalize.word_pairs`),
        leftmost-longest; positions where ``skip`` is true are not matched."""
        out: list[Expansion] = []
        n = len(pairs)
        i = 0
        while i < n:
            if skip and skip[i]:
                i += 1
                continue
            hit = None
            for ph, entry in self._by_first.get(pairs[i][1], ()):
                k = len(ph)
                if i + k > n or (skip and any(skip[i : i + k])):
                    continue
                if _phrase_matches(pairs[i : i + k], ph) and not self._names_another(pairs, i + k, entry, ph):
                    hit = Expansion(i, i + k, entry.expand, entry.weight)
                    break
            if hit:
                out.append(hit)
                i = hit.end
            else:
                i += 1
        return out


_BARE_HEADS = frozenset({"sổ", "giấy", "thẻ"})  # accented: "biển số", "cá thể" are not papers


def _word_matches(query: tuple[str, str], phrase: tuple[str, str]) -> bool:
    q_acc, q_fold = query
    p_acc, p_fold = phrase
    if q_fold != p_fold:
        return False
    # an unaccented query word matches by folded form; an accented one needs the same accents
    # (the phrase may itself be written without accents, e.g. "cccd")
    return q_acc == q_fold or p_acc == p_fold or q_acc == p_acc


def _phrase_matches(words: list[tuple[str, str]], phrase: Phrase) -> bool:
    """Every word matches (:func:`_word_matches`); in a phrase of two or more words one accent slip
    is forgiven when another word carries the phrase's accents exactly ("sổ đổ" is "sổ đỏ": the
    accented "sổ" anchors it), so a typo in the accents does not lose the citizen's term."""
    slips = anchored = 0
    for q, p in zip(words, phrase):
        if q[1] != p[1]:
            return False
        if _word_matches(q, p):
            anchored += q[0] != q[1] and q[0] == p[0]
        else:
            slips += 1
    return slips == 0 or (slips == 1 and len(phrase) >= 2 and anchored >= 1)


_default: Synonyms | None = None


def load_synonyms(path: str | Path | None = None) -> Synonyms:
    """The bundled synonyms (cached) or those in ``path``."""
    global _default
    if path is not None:
        return Synonyms.load(path)
    if _default is None:
        _default = Synonyms.load(DEFAULT_PATH)
    return _default


def _check() -> int:  # pragma: no cover - maintainer tool
    from .canonical import load_bundled
    from .normalize import tokens

    procs = load_bundled()
    vocab = {t for p in procs for t in tokens(p.name)}
    syn = load_synonyms()
    missing = 0
    for e in syn.entries:
        for ph in e.expand:
            unknown = [t for t in ph if t not in vocab]
            if unknown:
                missing += 1
                print(f"{' '.join(ph)!r}: not in any bundled name: {', '.join(unknown)}")
    print(f"{len(syn)} entries, {len(procs)} bundled procedures, {missing} expansions with unknown words")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_check() if sys.argv[1:] == ["check"] else print(__doc__) or 2)
