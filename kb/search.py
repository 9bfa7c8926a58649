"""In-memory procedure search: BM25F over folded words and word pairs, abbreviation expansion,
typo correction against the index vocabulary, exact code lookup and a calibrated confidence.

    index = SearchIndex.build(procedures)
    result = index.search("lam lai can cuoc mat bao lau", limit=5)
    if result.confident: show(result.hits[0].procedure)
    elif result.hits: ask to choose, or offer result.suggestions (fields / levels) to narrow down
    else: "chưa tìm thấy" -> hand over to staff

How a query is scored
1. A procedure code anywhere in the text (``1.000419``, ``1.012275.H36``, a local code such as
   ``1.003695.000.00.00.H36``) is looked up directly; a known code gives one hit with score 1.0.
2. The text is folded (no accents, lower case), question phrases and filler words are dropped
   (kb.normalize), synonyms add the official words (kb.synonyms; abbreviations such as "cccd"
   are replaced, citizens' words are kept and the official words added at a lower weight), and
   words the index has never seen are corrected to the closest index words (rapidfuzz
   Levenshtein against the vocabulary, bucketed by length — never against every document).
3. Every document gets a BM25F score over the fields name, keywords, field, agency, subjects,
   level (name heaviest), for single words and for adjacent word pairs. To stay fast at 50k
   procedures, documents are gathered from the rarer words' posting lists; very common words
   only add to documents already gathered.
4. The best candidates are re-scored: normalised BM25 (against the score of an ideal match),
   the share of the query's information content the procedure matches (coverage), and a
   rapidfuzz similarity between the query and the name. Ties go to the citizen-level variant
   (Cấp xã / Cấp tỉnh) over Cấp bộ when the query does not name a level, then to the shorter,
   more general name. When the query carries accents, a name word that matches a typed word only
   once folded ("lại" for a typed "lái") does not count towards the name cover.
5. ``confident`` is true only when the top hit is strong (score and coverage above thresholds,
   calibrated on labelled questions — see benchmarks/README.md), clearly ahead of a *different*
   procedure, and the query's information is found in its *name* (not only in its keywords);
   and never when the top name starts with an action the query does not mention (*Cấp lại*,
   *Cấp đổi*, *Gia hạn*, *Thu hồi* …: "sổ đỏ", "gplx" alone get a choice list). Names that
   revoke, delete or end something rank a little lower unless the query says so. Being wrong
   with confidence is worse than saying "chưa tìm thấy".
"""

from __future__ import annotations

import gc
import heapq
import math
from array import array
from bisect import bisect_left
import re
import unicodedata
from collections import Counter
from collections import defaultdict, deque
from itertools import chain, compress, filterfalse, repeat
from sys import intern
from dataclasses import dataclass, field as dc_field
from typing import Container, Iterable, Sequence

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from .model import Procedure
from .scopes import (NameScope, QueryScope, age_fits, group_mismatch, name_scope, query_scope, scope_mismatch,
                     strip_scope)
from .normalize import (_WORD_RE, bigrams, filler_mask, fold, fold_word, is_stop, is_syllable, teencode_variants,
                        tokens, word_pairs)
from .synonyms import Synonyms, load_synonyms

__all__ = ["SearchIndex", "SearchResult", "SearchHit", "Suggestion", "SearchConfig", "find_codes"]

# A code as citizens type it: 1.000419, 1.012275.H36, 1.003695.000.00.00.H36 (also "1.000419."
# at the end of a sentence). Not preceded/followed by another digit.
_CODE_IN_TEXT = re.compile(r"(?<![\d.])(\d\.\d{6})((?:\.[A-Za-z0-9]{1,8})*)(?![\d])")


def find_codes(text: str) -> list[tuple[str, str]]:
    """``(base code, code as written)`` for every procedure code in ``text``."""
    out = []
    for m in _CODE_IN_TEXT.finditer(text or ""):
        written = (m.group(1) + m.group(2)).rstrip(".")
        out.append((m.group(1), written))
    return out


@dataclass(frozen=True)
class SearchConfig:
    """Ranking knobs. Defaults are tuned on benchmarks/data/questions.jsonl (see README)."""

    field_weights: tuple[tuple[str, float], ...] = (
        ("name", 3.0),
        ("keywords", 2.5),
        ("field", 1.5),
        ("agency", 0.4),
        ("subjects", 0.2),
        ("level", 0.4),
    )
    k1: float = 1.2
    b: float = 0.9
    bigram_weight: float = 1.6  # query weight of a word pair relative to its words
    fuzzy_weight: float = 0.8  # query weight of a typo-corrected word
    candidate_postings: int = 2000  # postings gathered per query before only "checking" words
    check_candidates: int = 120  # best candidates the commoner words are added to
    rerank: int = 30  # candidates re-scored with coverage and name similarity
    w_bm25: float = 0.40
    w_coverage: float = 0.20
    w_name: float = 0.20
    level_bonus: float = 0.05  # citizen-level variant when the query names no level
    w_name_cover: float = 0.05  # share of the procedure name's information the query covers
    name_full_bonus: float = 0.06  # every word of the procedure's name is in the query
    citizen_bonus: float = 0.02  # procedures whose subjects include citizens (the bot's audience)
    idf_power: float = 0.7  # <1 flattens idf: rare incidental words weigh less (coverage, BM25)
    unknown_mass: float = 0.6  # weight (x the idf of a word seen once) of a word matching nothing
    typo_credit: float = 0.6  # coverage credit of a typo-corrected word
    accent_cover: bool = True  # name cover honours the accents the citizen typed ("lái" is not "lại")
    scope_free_names: bool = True  # name similarity/cover ignore scope phrases ("đối với tổ chức")
    accent_typos: bool = True  # "bảo hiển" -> hiểm: accented words no name spells so are corrected too
    # Scoped variants (kb.scopes): a name scoped to organisations / with a foreign element / to an
    # age range / "without a permit" is preferred when the query mentions that scope and
    # penalised when it does not (citizens' questions go to the individual, domestic variant).
    org_bonus: float = 0.08
    org_penalty: float = 0.08
    foreign_bonus: float = 0.12
    foreign_penalty: float = 0.04
    age_bonus: float = 0.03
    age_penalty: float = 0.06
    no_permit_bonus: float = 0.04
    no_permit_penalty: float = 0.04
    # a name that revokes, deletes or ends something (Thu hồi, Xóa, Chấm dứt, Hủy) when the query
    # does not say so: citizens asking about a paper mostly want to get it
    undo_penalty: float = 0.03
    # the top name does something the query does not ask (*Điều chỉnh* / *Cấp lại* X) and a
    # sibling that does not (X itself) is within this much of it: the sibling goes first
    sibling_swap: float = 0.05
    # the choices should be different procedures: the same name at another level (or with a
    # level suffix) ranks this much lower than its first occurrence; narrowing by level reaches it
    repeat_penalty: float = 0.05
    # a question's word found only in the record's conditions or result (not in its name, keywords,
    # field, agency or subjects) counts this much towards coverage: citizens describe their case
    # ("nhà bị sập do bão") in the words the conditions use, not in the name's
    details_credit: float = 0.7
    details_chars: int = 3000  # of the conditions and of the result, each
    drop_exclusions: bool = True  # "(không phải là …)", "(trừ …)" in a name: not its words
    confident_score: float = 0.70
    confident_coverage: float = 0.70
    confident_margin: float = 0.02  # over the best hit with a different name
    margin_skips_foreign: bool = True  # ... not counting a foreign-element variant the question does not name
    # the top name must do one of the actions the question asks in so many words (gia hạn, mở khóa)
    asked_action_check: bool = True
    lost_check: bool = True  # "mất / hỏng …" asks for a new copy: a name that makes none is not sure
    group_check: bool = True  # a group of people the question names (người có công …) is in the top name
    confident_name_coverage: float = 0.5  # share of the query's information found in the top NAME
    # the top name must share a word with the query that names a thing, not only a generic verb
    # or place ("nộp ở xã được không" is not *Nộp tiền trồng rừng thay thế*)
    object_check: bool = True
    # a hit scoring under this share of the best one is not returned: a choice list of one
    # plausible procedure and four strangers reads as noise (0.6 lost one held-out answer; see
    # benchmarks/README.md)
    list_floor: float = 0.5


@dataclass(frozen=True)
class SearchHit:
    code: str
    name: str
    score: float  # 0..1
    procedure: Procedure
    coverage: float = 0.0  # share of the query's information matched by this procedure


@dataclass(frozen=True)
class Suggestion:
    """A way to narrow an unsure search: pass ``value`` as the ``kind`` filter of search()."""

    kind: str  # "field" or "level"
    value: str
    count: int  # close candidates with this value


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...] = ()
    confident: bool = False
    suggestions: tuple[Suggestion, ...] = ()
    terms: tuple[str, ...] = ()  # the folded words actually searched (after expansion/correction)
    by_code: bool = False  # answered by an exact code lookup
    margin: float = 0.0  # top score minus the best score of a procedure with another name (1.0: none)
    name_coverage: float = 0.0  # share of the query's information found in the top hit's name
    # sure of the top hit but for one thing: the question names no procedure, only generic
    # words ("cấp lại", "nộp ở xã") - a procedure on screen may say which it means
    names_nothing: bool = False

    @property
    def top(self) -> SearchHit | None:
        return self.hits[0] if self.hits else None


_NAN_ARRAY = array("f", [math.nan])  # repeated: a dense posting array's "absent"
_PAIR_FIELDS = frozenset({"name", "keywords", "field"})  # fields indexed with word pairs too
_UWORD = re.compile(r"[^\W\d_]+")
_CITIZEN = "cong dan"  # subject "Công dân Việt Nam"
_LEVEL_WORDS = {"xa", "tinh", "bo", "huyen", "phuong", "trung", "uong"}
_LEVEL_MENTION = re.compile(r"\bcap (xa|tinh|bo|huyen|trung uong)\b|\b(phuong|thi tran|trung uong)\b")
_NAME_PREFIX = re.compile(r"^\s*thu tuc\s+")
_NAME_LEVEL_SUFFIX = re.compile(r"\((?:thuc hien )?(?:tai |o )?cap [^)]*\)")
# What a procedure does to its paper or registration, where siblings differ only by it.
_ACTION = re.compile(r"(?<!\w)(cấp lại|cấp đổi|đổi|gia hạn|thu hồi|điều chỉnh|xóa|chấm dứt|thay đổi|"
                     r"đăng ký lại|khôi phục|hủy|bổ sung|cải chính|ủy quyền|uỷ quyền)(?!\w)")
# actions a citizen asks for in so many words; an answer whose name does none of them is not confident
_ASKED_ACTION = re.compile(r"(?<!\w)(cấp lại|cấp đổi|gia hạn|thu hồi|điều chỉnh|xóa|xoá|chấm dứt|thay đổi|"
                           r"đăng ký lại|khôi phục|hủy|huỷ|bổ sung|cải chính|mở khóa|mở khoá|"
                           r"tạm ngừng|giải thể|đính chính)(?!\w)")
_ASKED_ACTION_FOLDED = re.compile(r"(?<!\w)(cap lai|cap doi|gia han|thu hoi|dieu chinh|cham dut|thay doi|"
                                  r"dang ky lai|khoi phuc|bo sung|cai chinh|mo khoa|tam ngung|"
                                  r"giai the|dinh chinh)(?!\w)")
# folded words that say what is done, where, when or what went wrong, not to what: a question
# made of these alone ("nộp ở xã", "làm giấy ở đâu", "mất", "hết hạn", "lệ phí") names no procedure
_GENERIC_WORDS = frozenset("nop lam xin cap lai doi dang ky de nghi thuc hien giai quyet ho so giay to "
                           "tien xa phuong tinh huyen thi tran o dau can gi nao "
                           "mat het han sai hong rach le phi mien dia chi ngay thoi gian "
                           "mau don bieu khai chu ket qua".split())
_UNDOING = frozenset({("thu", "hoi"), ("xoa",), ("cham", "dut"), ("huy",)})
_ACTION_WORDS = 5  # an action counts within the first words of a name
# "(không phải là tàu bay, tàu biển …)", "(trừ …)": what a procedure is NOT for; its words are
# not the name's (a question about a ship must not match the movable-property procedure by them)
_EXCLUSION_ACC = re.compile(r"\((?:không phải|trừ|ngoại trừ|không bao gồm|không áp dụng)(?!\w)[^)]*\)")
_NAME_PREFIX_ACC = re.compile(r"^\s*thủ tục:?\s+")
_NAME_LEVEL_SUFFIX_ACC = re.compile(r"\((?:thực hiện )?(?:tại |ở )?cấp [^)]*\)")


def _citizen_level(level: str) -> int:
    f = fold(level)
    if "cap xa" in f or "cap tinh" in f:
        return 0
    if "cap bo" in f:
        return 2
    return 1


class SearchIndex:
    """Immutable in-memory index; build once (start-up or after an import), query many times."""

    def __init__(self) -> None:  # use SearchIndex.build
        self.config = SearchConfig()
        self.synonyms: Synonyms = load_synonyms()
        self.docs: list[Procedure] = []
        # term -> (sorted doc ids, BM25F contributions); compact arrays keep 50k docs small
        self.postings: dict[str, tuple[array, array]] = {}
        self.idf: dict[str, float] = {}
        self.by_code: dict[str, int] = {}
        self.vocab_by_len: dict[int, list[str]] = {}
        self.fuzzy_names: list[str] = []
        self.sim_names: list[str] = []  # fuzzy_names without scope phrases (kb.scopes.strip_scope)
        self.name_terms: list[tuple[str, ...]] = []  # distinct folded words of each name
        # per name: its distinct words as (accented lower case, folded), for accent-aware name cover
        self.name_words: list[tuple[tuple[str, str], ...]] = []
        self._pidf: dict[float, dict[str, float]] = {}  # idf ** power per power (query-invariant)
        self._name_w: dict[float, list] = {}  # per power, per doc: (name term weights, total), lazily
        self._name_wa: dict[float, list] = {}  # the same over accented name words
        self.citizen: bytearray = bytearray()  # 1 where the subjects include citizens
        self.scopes: dict[int, NameScope] = {}  # doc -> scope of its name (kb.scopes), scoped docs only
        self.details: list[frozenset[str]] = []  # doc -> words of its conditions and result
        self._action_cache: dict[int, frozenset[tuple[str, ...]]] = {}  # doc -> action phrases of its name (lazy)
        self._max_idf = 1.0
        self.accented: dict[str, frozenset[str]] = {}  # folded word -> accented spellings in names
        self.acc_by_len: dict[int, list[str]] = {}  # accented spellings in names, by length
        self.name_len: list[int] = []
        self.level_rank: list[int] = []
        self.folded_level: list[str] = []
        self.folded_field: list[str] = []
        self.folded_agency: list[str] = []
        self._ideal_sat = 0.0
        self._correct_cache: dict[str, list[tuple[str, float]]] = {}
        self._filter_cache: dict[tuple[str, str, str], frozenset[int]] = {}
        # common words' contributions by doc id (NaN where absent), built when first needed (_dense_vals)
        self._dense: dict[str, array] = {}

    # -- build ----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        procedures: Iterable[Procedure],
        *,
        config: SearchConfig | None = None,
        synonyms: Synonyms | None = None,
    ) -> "SearchIndex":
        """Index ``procedures``. A code seen twice is merged (kb.importers.merge)."""
        # millions of small objects: the cyclic GC would rescan them again and again
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._build(procedures, config=config, synonyms=synonyms)
        finally:
            if was_enabled:
                gc.enable()

    @classmethod
    def _build(cls, procedures: Iterable[Procedure], *, config: SearchConfig | None,
               synonyms: Synonyms | None) -> "SearchIndex":
        from .importers.merge import merge

        self = cls()
        if config is not None:
            self.config = config
        if synonyms is not None:
            self.synonyms = synonyms
        cfg = self.config
        docs: list[Procedure] = []
        for p in procedures:
            i = self.by_code.get(p.code)
            if i is None:
                self.by_code[p.code] = len(docs)
                docs.append(p)
            else:
                docs[i] = merge(docs[i], p)
        self.docs = docs
        n = len(docs)

        weights = dict(cfg.field_weights)
        # Field texts repeat a lot (fields, agencies, subject lists): analyse each distinct text once.
        folded: dict[str, str] = {}

        def fold_c(text: str) -> str:
            f = folded.get(text)
            if f is None:
                f = folded[text] = fold(text)
            return f

        def fold_joined(parts: tuple[str, ...]) -> str:  # without joining them again for every doc
            f = joined.get(parts)
            if f is None:
                f = joined[parts] = fold_c(" ; ".join(parts))
            return f

        memo: dict[tuple[str, str], tuple[tuple[tuple[str, int], ...], int]] = {}
        details_memo: dict[tuple[str, str], frozenset[str]] = {}
        details_by_text: dict[tuple[str, str], frozenset[str]] = {}
        joined: dict[tuple[str, ...], str] = {}  # parts -> fold_c(" ; ".join(parts))
        # a name (local variants, near-copies share them) and the other fields' texts are read
        # once each: name -> _NameInfo; the record's texts -> _Record
        names: dict[str, _NameInfo] = {}
        records: dict[tuple, _Record] = {}
        reader = _NameReader(cfg, "name" in weights)
        # per doc: its name's analysis and the id of its "signature" - the combination of its
        # other fields' texts, which local variants (and the benchmark's copies) share: their
        # BM25F contributions are computed once per signature, not per doc
        doc_names: list[_NameInfo] = []
        doc_sigs: list[int] = []
        sig_ids: dict[tuple[tuple[str, str], ...], int] = {}
        sig_fields: list[list[tuple[str, tuple[tuple[str, int], ...], int]]] = []
        name_lengths: list[int] = []
        rec_docs: dict[int, int] = {}  # id(record) -> number of its docs (for the fields' mean lengths)
        for i, p in enumerate(docs):
            for lc in p.local_codes:
                self.by_code.setdefault(lc.upper(), i)
            nm = names.get(p.name)
            if nm is None:
                nm = names[p.name] = reader.read(p.name)
            doc_names.append(nm)
            if nm.length is not None:
                name_lengths.append(nm.length)
            if cfg.details_credit:
                # local variants of a procedure share the texts (keyed by the whole texts first:
                # their hashes are cached, the cut ones' would be computed again for every doc)
                dset = details_by_text.get(full := (p.conditions, p.result))
                if dset is None:
                    dkey = (p.conditions[:cfg.details_chars], p.result[:cfg.details_chars])
                    dset = details_memo.get(dkey)
                    if dset is None:
                        dset = details_memo[dkey] = frozenset(
                            intern(t) for t in tokens(fold(dkey[0] + " ; " + dkey[1])))
                    details_by_text[full] = dset
                self.details.append(dset)
            subjects = tuple(p.subjects)  # a tuple already, unless built by hand
            rkey = (tuple(p.keywords), p.field, p.implementing_agency, p.competent_agency, subjects, p.level)
            rec = records.get(rkey)
            if rec is None:
                texts = {
                    "keywords": fold_joined(rkey[0]),
                    "field": fold_c(p.field),
                    "agency": fold_joined((p.implementing_agency, p.competent_agency)),
                    "subjects": fold_joined(subjects),
                    "level": fold_c(p.level),
                }
                rest: list[tuple[str, str]] = []
                rest_fields = []
                for fname, text in texts.items():
                    if fname not in weights or not text:
                        continue
                    key = (fname, text)
                    got = memo.get(key)
                    if got is None:
                        c: Counter = Counter()
                        length = 0
                        for part in _split_phrases(text):
                            c.update(part + bigrams(part) if fname in _PAIR_FIELDS else part)
                            length += len(part)
                        got = memo[key] = (tuple(c.items()), length)
                    rest.append(key)
                    rest_fields.append((fname, got[0], got[1]))
                sid = sig_ids.get(sig := tuple(rest))
                if sid is None:
                    sid = sig_ids[sig] = len(sig_fields)
                    sig_fields.append(rest_fields)
                rec = records[rkey] = _Record(
                    sid, texts["level"], texts["field"], texts["agency"],
                    any(_CITIZEN in fold_c(sj) for sj in subjects), _citizen_level(p.level),
                    tuple((fname, length) for fname, _, length in rest_fields))
                rec_docs[id(rec)] = 0
            rec_docs[id(rec)] += 1
            doc_sigs.append(rec.sid)
            self.fuzzy_names.append(nm.fuzzy)
            self.sim_names.append(nm.bare)
            self.name_terms.append(nm.terms)
            self.name_words.append(nm.words)
            self.citizen.append(rec.citizen)
            if nm.scope is not None:
                self.scopes[i] = nm.scope
            self.name_len.append(nm.folded_len)
            self.level_rank.append(rec.level_rank)
            self.folded_level.append(rec.level)
            self.folded_field.append(rec.field)
            self.folded_agency.append(rec.agency)

        spellings = reader.spellings()
        acc: dict[str, set[str]] = {}
        for w in spellings:
            acc.setdefault(fold(w), set()).add(w)
        self.accented = {k: frozenset(v) for k, v in acc.items()}
        self.acc_by_len = {}
        for w in sorted(spellings):  # sorted: the same corrections whatever the hash seed
            if w != fold(w) or len(w) > 2:
                self.acc_by_len.setdefault(len(w), []).append(w)

        # mean field lengths over the docs that have the field (integer sums: the same floats
        # as summing the docs' lengths one by one)
        totals = {f: [0, 0] for f in weights}
        if "name" in weights:
            totals["name"] = [sum(name_lengths), len(name_lengths)]
        for rec in records.values():
            k = rec_docs[id(rec)]
            for fname, length in rec.lengths:
                totals[fname][0] += k * length
                totals[fname][1] += k
        avg = {f: (s / c if c and s else 1.0) for f, (s, c) in totals.items()}
        # A term's BM25F contribution to a doc is the sum, in field order (name first), of
        # weight * tf / length norm over the doc's fields. It is summed exactly in that order
        # whatever the shortcuts below, so that the floats (and rankings) stay the same.
        b, k1 = cfg.b, cfg.k1
        sig_sum: list[dict[str, float]] = []  # per signature: term -> its fields' summed contribution
        sig_parts: list[dict[str, list[float]]] = []  # ... and each field's, for terms the name has too
        term_sigs: dict[str, dict[int, float]] = {}  # term -> signatures that have it -> their sum
        for sid, fields in enumerate(sig_fields):
            acc_s: dict[str, float] = {}
            parts: dict[str, list[float]] = {}
            for fname, items, length in fields:
                w = weights[fname]
                norm = 1.0 - b + b * (length / avg[fname])
                wn = w / norm
                for t, tf in items:
                    v = wn * tf
                    acc_s[t] = acc_s.get(t, 0.0) + v
                    parts.setdefault(t, []).append(v)
            sig_sum.append(acc_s)
            sig_parts.append(parts)
            for t, v in acc_s.items():
                term_sigs.setdefault(t, {})[sid] = v
        # Per doc only its name's words are visited: a name word (tf 1, in no other field of the
        # doc) contributes the doc's name weight, which depends on the name's length alone; the
        # other cases go to ``exact``.
        order: dict[str, object] = {}  # terms in order of first occurrence (doc order, name first)
        sig_docs: list[list[int]] = [[] for _ in sig_fields]
        name_docs: defaultdict[str, list[int]] = defaultdict(list)  # term -> docs whose name has it
        exact: dict[str, list[tuple[int, float]]] = {}  # term -> (doc, contribution) overriding the above
        both: dict[str, int] = {}  # term -> number of docs with it in the name and in another field
        doc_len: list[int] = []  # the name's length (the name weight depends on nothing else)
        wn_by_len: dict[int, float] = {}
        w_name, avg_name = weights.get("name", 0.0), avg.get("name", 1.0)
        seen_sig = bytearray(len(sig_fields))
        for i, nm in enumerate(doc_names):
            counts, length = nm.counts, nm.length or 0
            sid = doc_sigs[i]
            sig_docs[sid].append(i)
            wn = wn_by_len.get(length)
            if wn is None:
                norm = 1.0 - b + b * (length / avg_name)
                wn = wn_by_len[length] = w_name / norm
            doc_len.append(length)
            known = len(name_docs)
            deque(map(list.append, map(name_docs.__getitem__, counts), repeat(i)), 0)  # i to each term's list
            if len(name_docs) != known:  # some term is new: it goes after those already seen
                order.update(counts)
            for t, tf in nm.multi:
                exact.setdefault(t, []).append((i, wn * tf))
            rs = sig_sum[sid]
            if rs and counts:
                # in the name and in other fields: name first, then the others one by one (a
                # later entry in ``exact`` wins over the tf one above)
                parts = sig_parts[sid]
                for t in counts.keys() & rs.keys():
                    x = wn * counts[t]
                    for v in parts[t]:
                        x += v
                    exact.setdefault(t, []).append((i, x))
                    both[t] = both.get(t, 0) + 1
            if not seen_sig[sid]:
                seen_sig[sid] = 1
                order.update(rs)
        # Each term's postings are then put together with C-level dict / map / sort calls. Its
        # document frequency is known beforehand, so each contribution v is saturated to
        # idf * v / (k1 + v) once per name length (a tf-1 name word: 0.0 + wn), per signature
        # and per exact value, not once per posting.
        get_sig, get_len = doc_sigs.__getitem__, doc_len.__getitem__
        get_wn = wn_by_len.__getitem__
        for t in order:
            nd = name_docs.get(t)
            sv = term_sigs.get(t)
            fix = exact.get(t)
            if sv is None and fix is None and len(nd) <= 8:  # a rare name word (most terms): directly
                idf = math.log(1.0 + (n - len(nd) + 0.5) / (len(nd) + 0.5))
                self.idf[t] = idf
                self.postings[t] = (array("i", nd), array("f", [idf * v / (k1 + v) for v in map(get_wn, map(get_len, nd))]))
                continue
            # the docs of these signatures (each sig's docs are its own)
            sd = list(chain.from_iterable(map(sig_docs.__getitem__, sv))) if sv is not None else ()
            dfreq = len(sd) + (len(nd) if nd is not None else 0) - both.get(t, 0)
            idf = math.log(1.0 + (n - dfreq + 0.5) / (dfreq + 0.5))
            self.idf[t] = idf
            if nd is not None:  # saturated per name length: the lengths it has, or all if it has many
                lengths = wn_by_len if len(nd) > 8 * len(wn_by_len) else set(map(get_len, nd))
                by_len = {L: idf * wn_by_len[L] / (k1 + wn_by_len[L]) for L in lengths}
            if sv is None:  # only in names: the docs are in doc order already
                vals = array("f", map(by_len.__getitem__, map(get_len, nd)))
                if fix is not None:  # tf > 1: vals[position of d in nd] = saturated x, in order
                    fix_docs, xs = zip(*fix)
                    by_x = {x: idf * x / (k1 + x) for x in set(xs)}
                    deque(map(vals.__setitem__, map(bisect_left, repeat(nd), fix_docs), map(by_x.__getitem__, xs)), 0)
                self.postings[t] = (array("i", nd), vals)
                continue
            by_sig = {sid: idf * v / (k1 + v) for sid, v in sv.items()}
            if nd is None and fix is None:
                ids = sorted(sd)
                self.postings[t] = (array("i", ids), array("f", map(by_sig.__getitem__, map(get_sig, ids))))
                continue
            sat = dict(zip(sd, map(by_sig.__getitem__, map(get_sig, sd))))
            if nd is not None:
                sat.update(zip(nd, map(by_len.__getitem__, map(get_len, nd))))
            if fix is not None:  # a later entry wins; many docs share a value
                fix_docs, xs = zip(*fix)
                by_x = {x: idf * x / (k1 + x) for x in set(xs)}
                sat.update(zip(fix_docs, map(by_x.__getitem__, xs)))
            ids = sorted(sat)
            self.postings[t] = (array("i", ids), array("f", map(sat.__getitem__, ids)))
        self._max_idf = math.log(1.0 + (n - 0.5) / 1.5) if n > 1 else 1.0
        s = weights["name"]
        self._ideal_sat = s / (k1 + s)
        for t in self.postings:
            if "_" not in t and not t.isdigit():
                self.vocab_by_len.setdefault(len(t), []).append(t)
        self.pidf(cfg.idf_power)
        return self

    def pidf(self, power: float) -> dict[str, float]:
        """``idf ** power`` for every single word (computed once per power, not per query)."""
        got = self._pidf.get(power)
        if got is None:
            if len(self._pidf) > 8:  # only a tuning run tries many powers
                self._pidf.clear()
                self._name_w.clear()
                self._name_wa.clear()
            got = self._pidf[power] = {t: max(v, 0.0) ** power for t, v in self.idf.items() if "_" not in t}
        return got

    def _name_weights(self, d: int, power: float) -> tuple[tuple[str, ...], tuple[float, ...], float]:
        """The name's distinct words, their ``idf ** power`` and its total."""
        per = self._name_w.get(power)
        if per is None:
            per = self._name_w[power] = [None] * len(self.docs)
        got = per[d]
        if got is None:
            pidf = self.pidf(power)
            ts = self.name_terms[d]
            ws = tuple(pidf.get(t, 0.0) for t in ts)
            got = per[d] = (ts, ws, sum(ws))
        return got

    def _name_weights_acc(self, d: int, power: float) -> tuple[tuple[tuple[str, str, float], ...], float]:
        per = self._name_wa.get(power)
        if per is None:
            per = self._name_wa[power] = [None] * len(self.docs)
        got = per[d]
        if got is None:
            pidf = self.pidf(power)
            tw = tuple((a, f, pidf.get(f, 0.0)) for a, f in self.name_words[d])
            got = per[d] = (tw, sum(w for _, _, w in tw))
        return got

    def __len__(self) -> int:
        return len(self.docs)

    def get(self, code: str) -> Procedure | None:
        """The procedure with this base or local code, if indexed."""
        i = self.by_code.get(code.strip()) if code else None
        if i is None and code:
            i = self.by_code.get(code.strip().upper())
        return self.docs[i] if i is not None else None

    # -- query analysis ---------------------------------------------------------------------
    def _correct(self, tok: str, typed: str = "") -> list[tuple[str, float]]:
        """Corrections of the folded word ``tok``; ``typed`` is the word as typed (lower case)."""
        key = typed if typed and typed != tok else tok
        cache = self._correct_cache
        if key not in cache:
            if len(cache) > 20000:
                cache.clear()
            cache[key] = _correct(self, tok, typed)
        return cache[key]

    def _accent_slips(self, typed: str, folded: str) -> list[tuple[str, float, str]]:
        """Corrections of a word typed WITH accents whose spelling occurs in no procedure name,
        though its folded form does ("hiển" folds to "hien", as in "hiện"): the folded spellings
        of name words one consonant away with the same accents ("hiển" -> "hiểm", "mấc" -> "mất").
        A different tone or vowel is not a slip of this kind (it is a word we do not have)."""
        if typed == folded or typed in self.accented.get(folded, ()) or len(typed) < 3:
            return []
        key = "\x00" + typed
        cache = self._correct_cache
        got = cache.get(key)
        if got is None:
            if len(cache) > 20000:
                cache.clear()
            got = cache[key] = _accent_slips(self, typed, folded)
        return got

    def analyse(self, query: str) -> tuple[dict[str, float], list[str], bool]:
        """Query -> (term weights, content unigrams, level mentioned)."""
        weights, seq, level, *_ = self._analyse(query)
        return weights, seq, level

    def _analyse(self, query: str) -> tuple[dict[str, float], list[str], bool, list[list[tuple[tuple[str, ...], float]]], int,
                                             dict[str, set[str]], QueryScope]:
        """Also the concept groups: per typed word (or synonym span) its alternative spellings
        (the word, its typo corrections, the official phrases), each with the credit it earns -
        coverage counts a group as matched when any alternative is; and the number of content
        words that match nothing in the index even after typo correction (they count against
        coverage: "asdkjh qwe", "cảm ơn" must not look like a full match); and, by folded form, the
        accented spellings of content words the citizen typed WITH accents where that spelling occurs
        in some procedure name ("lái" -> {"lái"}): only such words can tell apart names that folding
        merges ("lái"/"lại"); a misspelt accent ("giây") is no signal."""
        cfg = self.config
        pairs = self.synonyms.respell(word_pairs(query))
        toks = [f for _, f in pairs]
        mask = filler_mask(toks)
        expansions = self.synonyms.find(pairs, mask)
        if cfg.accent_typos:
            # a consonant slip in an accented word may hide a citizen's phrase ("bảo hiển y tế hộ
            # gia đình"): if correcting it completes a synonym phrase, take the corrected word
            slips = {j: sl for j, (a, f) in enumerate(pairs)
                     if not mask[j] and f in self.postings and (sl := self._accent_slips(a, f))}
            for k in range(2 if slips else 0):  # the commonest correction first, then the other
                fixed = [(slips[j][k][2], slips[j][k][0]) if len(slips.get(j, ())) > k else p
                         for j, p in enumerate(pairs)]
                hit = {j for e in self.synonyms.find(fixed, mask) for j in range(e.start, e.end)
                       if fixed[j] != pairs[j]}
                if hit:
                    pairs = [fixed[j] if j in hit else p for j, p in enumerate(pairs)]
                    toks = [f for _, f in pairs]
                    expansions = self.synonyms.find(pairs, mask)
                    break
        covered: dict[int, float] = {}  # position -> weight override for typed words
        weights: dict[str, float] = {}

        def add(term: str, w: float) -> None:
            if term in self.postings and w > weights.get(term, 0.0):
                weights[term] = w

        seq: list[str] = []  # content unigrams in order (for pairs and name similarity)
        extra_phrases: list[tuple[tuple[str, ...], float]] = []
        groups: list[list[tuple[tuple[str, ...], float]]] = []
        unknown = 0
        span_group: dict[int, int] = {}
        for e in expansions:
            span = range(e.start, e.end)
            typed_known = [toks[j] for j in span if toks[j] in self.postings and not is_stop(pairs, j)]
            w = e.weight if typed_known else 1.0
            if not typed_known:
                for j in span:
                    covered[j] = 0.0  # abbreviation: replaced by its expansion
            alts = [tuple(t for t in ph if t in self.postings) for ph in e.phrases]
            if typed_known:
                alts.insert(0, tuple(typed_known))
            alts = [a for a in alts if a]
            if alts:
                for j in span:
                    span_group[j] = len(groups)
                groups.append([(a, 1.0) for a in alts])
            for ph in e.phrases:
                extra_phrases.append((ph, w))
        for j, t in enumerate(toks):
            if mask[j] or covered.get(j) == 0.0 or is_stop(pairs, j):
                continue
            if t in self.postings:
                slips = self._accent_slips(pairs[j][0], t) if cfg.accent_typos and j not in span_group else ()
                if slips:  # the slip that pairs with a neighbour ("bảo hiển" -> bao_hiem), else the commonest
                    prev = seq[-1] if seq else ""
                    nxt = toks[j + 1] if j + 1 < len(toks) else ""
                    slips = sorted(slips, key=lambda cs: -((f"{prev}_{cs[0]}" in self.postings)
                                                            + (f"{cs[0]}_{nxt}" in self.postings)))
                seq.append(slips[0][0] if slips else t)
                add(t, 1.0)
                for c, sim, _ in slips:
                    add(c, cfg.fuzzy_weight * sim)
                if j not in span_group:
                    groups.append([((t,), 1.0)] + [((c,), cfg.typo_credit * sim) for c, sim, _ in slips])
            elif t.isdigit():
                continue
            else:
                corr = self._correct(t, pairs[j][0])
                if len(corr) > 2:  # equally close: those that pair with a neighbour ("khai xinh" -> sinh)
                    prev = seq[-1] if seq else ""
                    nxt = toks[j + 1] if j + 1 < len(toks) else ""
                    pairs_n = [(len(self.postings.get(f"{prev}_{c}", ((),))[0])
                                + len(self.postings.get(f"{c}_{nxt}", ((),))[0]), (c, sim)) for c, sim in corr]
                    fits = [cs for n, cs in sorted(pairs_n, key=lambda x: -x[0]) if n]
                    corr = (fits or corr)[:2]
                if corr:
                    best = corr[0][0]
                    seq.append(best)
                    for c, sim in corr:
                        add(c, cfg.fuzzy_weight * sim)
                    groups.append([((c,), cfg.typo_credit * sim) for c, sim in corr])
                elif len(t) > 1 and j not in span_group:
                    unknown += 1
        for a, b in zip(seq, seq[1:]):
            add(f"{a}_{b}", cfg.bigram_weight)
        for ph, w in extra_phrases:
            for t in ph:
                add(t, w)
            for bg in bigrams(list(ph)):
                add(bg, w * cfg.bigram_weight)
        if cfg.idf_power != 1.0:
            p1 = cfg.idf_power - 1.0
            idf = self.idf
            for t in weights:
                if "_" in t:
                    a, _, b = t.partition("_")
                    f = (max(idf.get(a, 1.0), 1e-6) * max(idf.get(b, 1.0), 1e-6)) ** (p1 / 2)
                else:
                    f = max(idf[t], 1e-6) ** p1
                weights[t] *= f
        level_mentioned = bool(_LEVEL_MENTION.search(" ".join(toks)))
        q_acc: dict[str, set[str]] = {}
        for j, (a, f) in enumerate(pairs):
            if (a != f and not mask[j] and f in weights
                    and a in self.accented.get(f, ()) and not is_stop(pairs, j)):
                q_acc.setdefault(f, set()).add(a)
        return weights, seq, level_mentioned, groups, unknown, q_acc, query_scope(" ".join(toks))

    # -- search ----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        limit: int = 5,
        level: str | None = None,
        field: str | None = None,
        agency: str | None = None,
    ) -> SearchResult:
        """Rank procedures for a citizen's question (or a code). Filters are accent-insensitive:
        ``level`` matches a level contained in the record's levels ("Cấp xã" matches
        "Cấp tỉnh, Cấp xã"), ``field`` the field exactly, ``agency`` a part of the agency names."""
        cfg = self.config
        query = query or ""
        allowed = self._filter(level, field, agency)

        codes = find_codes(query)
        if codes:
            hits = []
            for base, written in codes:
                i = self.by_code.get(written.upper(), self.by_code.get(base))
                if i is not None and (allowed is None or i in allowed):
                    p = self.docs[i]
                    if all(h.code != p.code for h in hits):
                        hits.append(SearchHit(p.code, p.name, 1.0, p, 1.0))
            rest = _CODE_IN_TEXT.sub(" ", query)
            # a code alone (or with filler words) is a lookup; otherwise fall through to text
            if hits or not self.analyse(rest)[0]:
                return SearchResult(
                    query, tuple(hits[:limit]), confident=len(hits) == 1, by_code=True,
                    terms=tuple(c for _, c in codes),
                )
            query = rest

        weights, seq, level_mentioned, groups, unknown, q_acc, qscope = self._analyse(query)
        if not weights or not any("_" not in t for t in weights):
            return SearchResult(query, (), False, (), tuple(weights))

        scores = self._accumulate(weights, allowed)
        if not scores:
            return SearchResult(query, (), False, (), tuple(weights))
        # (sorted()[:k] is what heapq.nlargest returns, ties in the same order; faster here)
        top = sorted(scores, key=scores.__getitem__, reverse=True)[:max(cfg.rerank, len(self.docs) // 1250, limit)]

        uni = [(t, w * self.idf[t]) for t, w in weights.items() if "_" not in t]
        power = cfg.idf_power
        idf = self.pidf(power)
        gmass = [max(sum(idf[t] for t in alt) for alt, _ in g) for g in groups]
        gtotal = (sum(gmass) + unknown * cfg.unknown_mass * self._max_idf ** power) or 1.0
        gfull = [(mass / gtotal, [(alt, sum(idf[t] for t in alt), credit) for alt, credit in g])
                 for g, mass in zip(groups, gmass)]
        gw = _cover_weights(gfull, idf)
        uterms = [(t, self.postings[t][0]) for t in {t for g in groups for alt, _ in g for t in alt}]
        qterms = {t for t in weights if "_" not in t}
        details = self.details
        uset = frozenset(t for t, _ in uterms)
        dcredit = cfg.details_credit
        w_cover, full_bonus = cfg.w_name_cover, cfg.name_full_bonus
        ideal = sum(w * self.idf[t] * self._ideal_sat for t, w in weights.items()) or 1.0
        qstr = " ".join(dict.fromkeys(seq)) if seq else " ".join(t for t, _ in uni)
        if not cfg.accent_cover:
            q_acc = {}
        # for the name cover: query words that count however a name spells them, and the
        # spellings that count for the others (a name word's folded form is fold() of its spelling)
        free = qterms.difference(q_acc)
        spelt = {a for f, spellings in q_acc.items() if f in qterms for a in spellings}
        w_bm25, w_cov, w_name = cfg.w_bm25, cfg.w_coverage, cfg.w_name
        level_bonus = 0.0 if level_mentioned else cfg.level_bonus
        citizen_bonus = cfg.citizen_bonus
        level_rank, citizen = self.level_rank, self.citizen
        scopes = self.scopes
        org_adj = cfg.org_bonus if qscope.org else -cfg.org_penalty
        foreign_adj = cfg.foreign_bonus if qscope.foreign else -cfg.foreign_penalty
        no_permit_adj = cfg.no_permit_bonus if qscope.no_permit else -cfg.no_permit_penalty
        undo_penalty = cfg.undo_penalty
        # stage 1: everything but the name similarity (cheap); stage 2: rapidfuzz on the best
        # candidates only - a candidate whose cheap score plus the largest possible similarity
        # cannot reach the k-th best full score is skipped
        cheap = []
        matched_in: dict[int, set[str]] = {d: set() for d in top}  # the query words each candidate has
        common = len(self.docs) / 16
        for t, ids in uterms:
            if len(ids) >= common:  # NaN where absent (see _dense_vals)
                for d, v in zip(top, map(self._dense_vals(t).__getitem__, top)):
                    if v == v:
                        matched_in[d].add(t)
            else:
                for d, _ in _present(ids, top, matched_in):
                    matched_in[d].add(t)
        for d in top:
            matched = matched_in[d]
            extra = (details[d] & uset) - matched if details else None  # words only its details have
            cov = _coverage(gw, matched, extra, dcredit)
            bm = scores[d] / ideal
            s = w_bm25 * (bm if bm < 1.0 else 1.0) + w_cov * cov
            if w_cover or full_bonus:
                if q_acc:  # a name word folded like a typed word but spelt otherwise is not covered
                    twa, tot = self._name_weights_acc(d, power)
                    nc = sum(w for a, f, w in twa if f in free or a in spelt)
                else:
                    ts, ws, tot = self._name_weights(d, power)
                    nc = sum(compress(ws, map(qterms.__contains__, ts)))
                nc = nc / tot if tot else 0.0
                s += w_cover * nc + (full_bonus if nc >= 0.999 else 0.0)
            if level_rank[d] == 0:
                s += level_bonus
            if citizen[d]:
                s += citizen_bonus
            sc = scopes.get(d)
            if sc is not None:
                s += _scope_adjust(sc, qscope, org_adj, foreign_adj, no_permit_adj, cfg)
            if undo_penalty and not _UNDOING.isdisjoint(acts := self._actions(d)) and any(
                    a in _UNDOING and not self._asked(a, weights) for a in acts):
                s -= undo_penalty  # asked about a paper, not about revoking or deleting it
            cheap.append((s, cov, d))
        cheap.sort(key=lambda x: -x[0])
        keep = max(limit, 10)
        ranked = []
        best_full: list[float] = []  # min-heap of the best `keep` full scores
        token_set, token_sort, names = fuzz.token_set_ratio, fuzz.token_sort_ratio, self.sim_names
        for s, cov, d in cheap:
            if len(best_full) >= keep and s + w_name < best_full[0]:
                ranked.append((max(0.0, min(1.0, s)), cov, d))  # cannot reach the top: no similarity
                continue
            name = names[d]
            name_sim = (token_set(qstr, name) + token_sort(qstr, name)) / 200.0
            s = s + w_name * name_sim
            s = 0.0 if s < 0.0 else 1.0 if s > 1.0 else s
            if len(best_full) < keep:
                heapq.heappush(best_full, s)
            elif s > best_full[0]:
                heapq.heapreplace(best_full, s)
            ranked.append((s, cov, d))
        ranked.sort(key=lambda x: (-round(x[0], 3), self.level_rank[x[2]] if not level_mentioned else 0,
                                   self.name_len[x[2]], self.docs[x[2]].code))
        if cfg.repeat_penalty:  # a repeated name waits behind other names close to it
            seen: set[str] = set()
            head = []
            for k, row in enumerate(ranked[: max(limit, 10) * 2]):
                name = self.fuzzy_names[row[2]]
                head.append((row[0] - (cfg.repeat_penalty if name in seen else 0.0), k, row))
                seen.add(name)
            head.sort(key=lambda x: (-round(x[0], 3), x[1]))
            ranked = [row for _, _, row in head] + ranked[len(head):]
        if cfg.sibling_swap:
            ranked = self._prefer_plain_sibling(ranked, weights, cfg.sibling_swap)
        floor = ranked[0][0] * cfg.list_floor
        hits = tuple(
            SearchHit(self.docs[d].code, self.docs[d].name, round(s, 4), self.docs[d], round(cov, 4))
            for s, cov, d in ranked[:limit] if s >= floor
        )
        margin = self._margin(ranked, qscope if cfg.margin_skips_foreign else None)
        s0, cov0, d0 = ranked[0]
        confident = (s0 >= cfg.confident_score and cov0 >= cfg.confident_coverage
                     and margin >= cfg.confident_margin)
        # the query's words must be found in the top procedure's NAME, not only in its keywords or
        # agency: in a small knowledge base an absent procedure's words often occur in the other
        # fields of a present one ("nghĩa vụ quân sự" in the keywords of "khai báo tạm vắng")
        name_cov = _group_cover(gfull, set(self.name_terms[d0]), idf)
        confident = confident and name_cov >= cfg.confident_name_coverage
        # a question about a company / a foreign element answered by a name that mentions neither:
        # the right variant is probably not in this knowledge base
        confident = confident and not scope_mismatch(qscope, self.fuzzy_names[d0])
        # ... or about people with merit / with a disability / a poor household (kb.scopes._GROUPS)
        if cfg.group_check and confident:
            confident = not group_mismatch(" ".join(tokens(fold(query))), self.fuzzy_names[d0])
        # ... and the other way round: a procedure scoped to a foreign element (kb.scopes) for a
        # question that names none
        sc0 = self.scopes.get(d0)
        confident = confident and not (sc0 is not None and sc0.foreign and not qscope.foreign)
        # the top name does something to the paper the citizen did not ask for ("sổ đỏ",
        # "gplx" -> *Cấp đổi* / *Cấp lại* …): ask
        confident = confident and not self._unasked_action(d0, weights)
        # ... and the other way round: the citizen asks to extend / unlock / change something and
        # the top name does not say it does that ("mở khóa tài khoản định danh" -> *Cấp tài khoản*)
        asked = _asked_actions(query) if confident and (cfg.asked_action_check or cfg.lost_check) else set()
        if cfg.asked_action_check and asked:
            name0 = " " + " ".join(tokens(self.docs[d0].name)) + " "
            confident = any(f" {a} " in name0 for a in asked)
        # ... and the paper was lost or damaged ("mất giấy đăng ký hộ kinh doanh"), with no action
        # asked in so many words: the answer must give a new copy (cấp lại / đổi / bản sao /
        # trích lục / đăng ký lại), not the first issue
        if cfg.lost_check and confident and not asked and _lost_or_damaged(query):
            name0 = unicodedata.normalize("NFC", self.docs[d0].name).lower()
            confident = bool(_NEW_COPY_ACC.search(name0))
        # ... and at least two of its words shared with the question ("sai", "vợ" alone: no), typo
        # corrections not counted ("cô chú": "chú" is no "thu"), not all generic ("nộp ở xã"); last,
        # so that names_nothing says "sure but for that" (what a card on screen can supply)
        names_nothing = False
        if cfg.object_check and confident:
            typed = {t for g in groups for alt, credit in g if credit >= 1.0 for t in alt}
            shared = typed.intersection(self.name_terms[d0])
            names_nothing = len(shared) < 2 or shared <= _GENERIC_WORDS
            confident = not names_nothing
        suggestions = () if confident else self._suggest(ranked)
        return SearchResult(query, hits, confident, suggestions, tuple(sorted(weights)),
                            margin=round(margin, 4), name_coverage=round(name_cov, 4),
                            names_nothing=names_nothing)

    def _actions(self, d: int) -> frozenset[tuple[str, ...]]:
        """The action phrases at the start of a procedure's name (folded words), read from
        the accented name so that "lái" or "đội" are not taken for "lại" or "đổi"."""
        found = self._action_cache.get(d)
        if found is None:
            name = _NAME_PREFIX_ACC.sub("", unicodedata.normalize("NFC", self.docs[d].name).lower())
            head = " ".join(name.split()[:_ACTION_WORDS])  # the name's own action, not a later clause
            found = frozenset(tuple(fold(m).split()) for m in _ACTION.findall(head))
            self._action_cache[d] = found
        return found

    @staticmethod
    def _asked(action: tuple[str, ...], weights: dict[str, float]) -> bool:
        """Whether the query mentions an action: its word pairs, or for the "đổi" family (đổi,
        cấp đổi, thay đổi) the word "đổi" alone."""
        if action[-1] == "doi":
            return "doi" in weights
        if len(action) == 1:
            return action[0] in weights
        return all(f"{a}_{b}" in weights for a, b in zip(action, action[1:]))

    def _unasked_action(self, d: int, weights: dict[str, float]) -> bool:
        """True when the name starts with an action the query does not mention (neither typed
        nor added by a synonym)."""
        return any(not self._asked(a, weights) for a in self._actions(d))

    def _prefer_plain_sibling(self, ranked: list[tuple[float, float, int]], weights: dict[str, float],
                              within: float) -> list[tuple[float, float, int]]:
        """``ranked`` with a close sibling first when the top name starts with an action the
        query does not ask (*Cấp lại Sổ thuyền viên* for "sổ thuyền viên") and the sibling, at
        most ``within`` behind among the first five and sharing half of the top name's words,
        starts with none (*Đăng ký và cấp Sổ thuyền viên*)."""
        s0, _, d0 = ranked[0]
        if not self._unasked_action(d0, weights):
            return ranked
        words0 = set(self.name_terms[d0])
        for k in range(1, min(len(ranked), 5)):
            s, _, d = ranked[k]
            if s0 - s > within:
                break
            if self._unasked_action(d, weights):
                continue
            words = set(self.name_terms[d])
            if len(words0 & words) / (len(words0 | words) or 1) >= 0.5:
                return [ranked[k]] + ranked[:k] + ranked[k + 1:]
        return ranked

    def _margin(self, ranked: Sequence[tuple[float, float, int]], qscope: QueryScope | None = None) -> float:
        """How far the top hit is ahead of the best hit with a different name (the same
        procedure at another level is not a competitor; nor, for a question that names no foreign
        element, a variant scoped to one); 1.0 when there is none."""
        s0, _, d0 = ranked[0]
        name0 = self.fuzzy_names[d0]
        skip_foreign = qscope is not None and not qscope.foreign
        for s, _, d in ranked[1:]:
            if self.fuzzy_names[d] != name0:
                if skip_foreign and (sc := self.scopes.get(d)) is not None and sc.foreign:
                    continue
                return s0 - s
        return 1.0

    def _suggest(self, ranked: Sequence[tuple[float, float, int]]) -> tuple[Suggestion, ...]:
        if not ranked:
            return ()
        best = ranked[0][0]
        close = [d for s, _, d in ranked[:20] if s >= best - 0.1]
        if len(close) < 2:
            return ()
        out: list[Suggestion] = []
        fields = Counter(self.docs[d].field for d in close if self.docs[d].field)
        levels: Counter = Counter()
        for d in close:
            for part in self.docs[d].level.split(","):
                if part.strip():
                    levels[part.strip()] += 1
        if len(fields) > 1:
            out += [Suggestion("field", v, c) for v, c in fields.most_common(3)]
        if len(levels) > 1:
            out += [Suggestion("level", v, c) for v, c in levels.most_common(3)]
        return tuple(out)

    def _has(self, term: str, doc: int) -> bool:
        ids = self.postings[term][0]
        i = bisect_left(ids, doc)
        return i < len(ids) and ids[i] == doc

    def _accumulate(self, weights: dict[str, float], allowed: frozenset[int] | None) -> dict[int, float]:
        """Scores of candidate documents. Rarer words' postings are added in full (up to a budget);
        commoner words are only added to the best candidates found so far."""
        cfg = self.config
        # a bigger catalogue has more near-namesakes: the budgets grow with it (a fixed share)
        n = len(self.docs)
        budget = max(cfg.candidate_postings, n // 12)
        check = max(cfg.check_candidates, n // 170)
        terms = sorted(weights, key=lambda t: len(self.postings[t][0]))
        scores: dict[int, float] = {}
        get = scores.get
        used = 0
        checkers = []
        for t in terms:
            ids, vals = self.postings[t]
            if used and used + len(ids) > budget:
                checkers.append(t)
                continue
            used += len(ids)
            w = weights[t]
            for d, v in zip(ids, vals):
                scores[d] = get(d, 0.0) + w * v
        if allowed is not None:
            scores = {d: s for d, s in scores.items() if d in allowed}
        if checkers and scores:
            keep = sorted(scores, key=scores.__getitem__, reverse=True)[:check]  # as heapq.nlargest
            scores = {d: scores[d] for d in keep}
            for t in checkers:
                ids, vals = self.postings[t]
                w = weights[t]
                if len(ids) * 16 >= n:  # a common word: its contribution to each doc read at once
                    for d, v in zip(keep, map(self._dense_vals(t).__getitem__, keep)):
                        if v == v:  # not NaN: the doc has the word
                            scores[d] += w * v
                else:
                    for d, i in _present(ids, keep, scores):
                        scores[d] += w * vals[i]
        return scores

    def _dense_vals(self, term: str) -> array:
        """The term's postings as one float32 per doc, NaN where absent, for words in a 16th of
        the docs or more (4 bytes a doc: at most 8 times the size of the word's postings)."""
        got = self._dense.get(term)
        if got is None:
            ids, vals = self.postings[term]
            got = self._dense[term] = _NAN_ARRAY * len(self.docs)
            deque(map(got.__setitem__, ids, vals), 0)
        return got

    def _filter(self, level: str | None, field: str | None, agency: str | None) -> frozenset[int] | None:
        if not (level or field or agency):
            return None
        key = (fold(level or ""), fold(field or ""), fold(agency or ""))
        if key not in self._filter_cache:
            if len(self._filter_cache) > 256:
                self._filter_cache.clear()
            self._filter_cache[key] = _filter(self, *key)
        return self._filter_cache[key]


_LOST_ACC = re.compile(r"(?<!\w)(mất|thất lạc|hư hỏng|bị hỏng|hỏng|rách|bị cháy|mối ăn|nhàu nát)(?!\w)")
_LOST_FOLDED = re.compile(r"(?<!\w)(bi mat|lam mat|danh mat|that lac|hu hong|bi hong|bi rach|bi chay|"
                          r"moi an|mat (giay|so|the|ho chieu|cccd|cmnd|can cuoc|gplx))(?!\w)")
# ... a paper: what is lost or damaged must be one ("mất bao lâu", "bố tôi mất", "thất lạc hành lý"
# are not about a lost paper)
_PAPER = re.compile(r"(?<!\w)(giay|so|the|bang|ho chieu|cccd|cmnd|can cuoc|gplx|chung chi|chung nhan|"
                    r"ban chinh|phu hieu|bien so|ban sao|trich luc)(?!\w)")
_NOT_LOST_ACC = re.compile(r"(?<!\w)(mất (bao|mấy|nhiêu|phí|tiền|thời gian|công|khoảng|chừng)"
                           r"|(bố|mẹ|cha|ông|bà|chồng|vợ|con|anh|chị|em|cụ|người thân|người)"
                           r"( tôi| em| mình| cháu| nhà tôi)?( đã| vừa| mới| bị)? mất)(?!\w)")  # time; a death
_NEW_COPY_ACC = re.compile(r"(?<!\w)(lại|đổi|bản sao|trích lục|mất|hư hỏng)(?!\w)")


def _lost_or_damaged(query: str) -> bool:
    """The citizen says a paper was lost or damaged ("mất giấy đăng ký hộ kinh doanh", "sổ đỏ bị
    mối ăn"). Read on the accents where typed ("mất", not "mặt" or "mật"; not "mất bao lâu"); on
    folded text only in phrases where "mat" can only be "mất"."""
    low = unicodedata.normalize("NFC", query).lower()
    folded = " ".join(tokens(low))
    if not _PAPER.search(folded):
        return False
    if _LOST_ACC.search(_NOT_LOST_ACC.sub(" ", low)):
        return True
    return low.isascii() and bool(_LOST_FOLDED.search(folded))


def _asked_actions(query: str) -> set[str]:
    """The actions a query asks for, folded ("gia hạn giấy phép" -> {"gia han"}). Read on the
    accents where the citizen typed them ("xóa", "hủy"), on the folded text otherwise (without the
    one-word actions folding makes ambiguous: "xoa", "huy")."""
    low = unicodedata.normalize("NFC", query).lower()
    found = {fold(m).replace("xoá", "xoa") for m in _ASKED_ACTION.findall(low)}
    found |= set(_ASKED_ACTION_FOLDED.findall(" ".join(tokens(fold(low)))))
    return {" ".join(tokens(a)) for a in found}


def _present(ids: array, docs: Sequence[int], among: Container[int]) -> list[tuple[int, int]]:
    """``(doc, position in ids)`` for the ``docs`` (the same docs as ``among``, which answers
    ``in`` fast) found in the sorted ``ids``, in no particular order. A short list is scanned (in
    C), a long one bisected once per doc (each probe of an array makes an int: ~0.3 µs a search)."""
    n = len(ids)
    if n <= 4 * len(docs):
        return [(ids[i], i) for i in compress(range(n), map(among.__contains__, ids))]
    out = []
    for d in docs:
        i = bisect_left(ids, d)
        if i < n and ids[i] == d:
            out.append((d, i))
    return out


class _NameInfo:
    """What the index keeps of a procedure name (read once per distinct name by _NameReader)."""

    __slots__ = ("fuzzy", "bare", "counts", "length", "multi", "terms", "scope", "folded_len", "words")

    def __init__(self, fuzzy: str, bare: str, counts: dict[str, int], length: int | None,
                 multi: list[tuple[str, int]], terms: tuple[str, ...], scope: NameScope | None,
                 folded_len: int, words: tuple[tuple[str, str], ...]) -> None:
        self.fuzzy = fuzzy  # folded, without a "thủ tục" prefix and a level suffix (fuzzy_names)
        self.bare = bare  # ... and without its scope phrase (sim_names; the same object if none)
        self.counts = counts  # BM25 term counts: words and word pairs ({} if names are not indexed)
        self.length = length  # BM25 length (None if names are not indexed)
        self.multi = multi  # the (term, tf) pairs with tf > 1
        self.terms = terms  # distinct folded words of ``bare`` (name_terms)
        self.scope = scope  # kb.scopes.name_scope, None when it has none
        self.folded_len = folded_len  # len of the folded name (name_len)
        self.words = words  # distinct (accented, folded) words (name_words)


class _Record:
    """What the index keeps of a record's fields other than the name (read once per distinct
    combination of their texts)."""

    __slots__ = ("sid", "level", "field", "agency", "citizen", "level_rank", "lengths")

    def __init__(self, sid: int, level: str, field: str, agency: str, citizen: bool, level_rank: int,
                 lengths: tuple[tuple[str, int], ...]) -> None:
        self.sid = sid  # its signature (the folded texts of these fields)
        self.level, self.field, self.agency = level, field, agency  # folded
        self.citizen = citizen  # the subjects include citizens
        self.level_rank = level_rank  # _citizen_level
        self.lengths = lengths  # (field, BM25 length) of the fields it has


class _Runs(dict):
    """text without whitespace -> ``pattern.findall`` of it, interned, computed once per
    distinct text (runs of a pattern that matches no whitespace never span whitespace)."""

    def __init__(self, pattern: re.Pattern) -> None:
        super().__init__()
        self.pattern = pattern

    def __missing__(self, piece: str) -> list[str]:
        runs = self[piece] = list(map(intern, self.pattern.findall(piece)))
        return runs

    def of(self, text: str) -> list[str]:
        """``pattern.findall(text)``, interned."""
        return list(chain.from_iterable(map(self.__getitem__, text.split())))


class _Pieces(dict):
    """A whitespace-separated piece of an NFC, lower-case name -> (its fold, the tokens of that,
    its accented words), computed once per distinct piece: a catalogue
    has a few thousand distinct words in 50,000 names. Every word seen is in ``acc_pairs``
    (word -> (word, folded), interned: one copy of each word and pair for all names)."""

    def __init__(self) -> None:
        super().__init__()
        self.acc_pairs: dict[str, tuple[str, str]] = {}

    def __missing__(self, piece: str) -> tuple[str, list[str], list[str]]:
        folded = fold_word(piece)
        acc_pairs = self.acc_pairs
        words = list(map(intern, _UWORD.findall(piece)))
        for w in filterfalse(acc_pairs.__contains__, words):
            acc_pairs[w] = (w, intern(fold(w)))
        got = self[piece] = (folded, list(map(intern, tokens(folded))), words)
        return got


class _NameReader:
    """Reads procedure names for the index (each distinct name once, see SearchIndex._build),
    from the analyses of their pieces (:class:`_Pieces`)."""

    def __init__(self, cfg: SearchConfig, indexed: bool) -> None:
        self.cfg = cfg
        self.indexed = indexed  # whether names are a BM25 field
        self.pieces = _Pieces()
        self.folded_tokens = _Runs(_WORD_RE)  # folded piece -> kb.normalize.tokens of it

    def _tokens(self, folded: str) -> list[str]:
        """kb.normalize.tokens of a folded text (interned)."""
        if folded.isascii():  # lower case already: tokens() would change nothing but case
            return self.folded_tokens.of(folded)
        return list(map(intern, tokens(folded)))

    def spellings(self) -> set[str]:
        """Every word (accented, lower case) of every name read: the words of their pieces (a
        cut name's pieces, read too, have no other words: what is cut starts and ends with a
        non-letter)."""
        return set(self.pieces.acc_pairs)

    def read(self, name: str) -> _NameInfo:
        cfg = self.cfg
        lower = unicodedata.normalize("NFC", name).lower()
        pieces = list(map(self.pieces.__getitem__, lower.split()))
        cut = False
        if cfg.drop_exclusions and "(" in name:  # read on the accents: "(trừ" is not "(trụ sở"
            kept_text = _EXCLUSION_ACC.sub(" ", lower)
            cut = kept_text is not lower  # re's sub returns the same str when nothing matched
        name_f = fold(kept_text) if cut else " ".join([f for f, _, _ in pieces])  # == fold(name)
        if name_f.startswith("thu tuc"):  # fold leaves no leading space: else the prefix cannot match
            name_f = _NAME_PREFIX.sub("", name_f)
            cut = True
        fuzzy = (_NAME_LEVEL_SUFFIX.sub("", name_f) if "(" in name_f else name_f).strip(" ;,.-")
        # similarity and name cover judge the name without its scope phrase (kb.scopes decides that)
        bare = strip_scope(fuzzy) if cfg.scope_free_names else fuzzy
        # tokens(name_f): the name's own pieces' unless something was cut
        name_terms = self._tokens(name_f) if cut else list(chain.from_iterable([t for _, t, _ in pieces]))
        bare_terms = name_terms if bare is name_f else self._tokens(bare)  # (strip returns the same str if unchanged)
        counts: dict[str, int] = {}
        multi: list[tuple[str, int]] = []
        length = None
        if name_f and self.indexed:
            if ";" not in name_f:  # one phrase (as _split_phrases: word pairs never span a ';')
                parts = [name_terms] if name_terms else []
            else:
                parts = [self._tokens(part) for part in name_f.split(";") if part.strip()]
            terms: list[str] = []
            length = 0
            for part in parts:
                terms += part
                terms += bigrams(part)
                length += len(part)
            counts = Counter(terms)
            if len(counts) < len(terms):  # the (term, tf) pairs with tf > 1
                multi = list(compress(counts.items(), map((1).__lt__, counts.values())))
            if bare is not fuzzy:
                # BM25 length normalisation ignores the scope phrase too: "… đối với tổ chức" is
                # not a shorter, better match than "… đối với hộ gia đình, cá nhân"
                scope_words = max(0, len(fuzzy.split()) - len(bare.split()))
                if scope_words:
                    length = max(1, length - scope_words)
        uniq_terms = tuple(dict.fromkeys(bare_terms))
        scope = name_scope(fuzzy)
        # its distinct accented words, for accent-aware name cover (without a prefix, a level
        # suffix or an exclusion)
        if "(" in lower or "thủ tục" in lower:  # else none of these three patterns can match
            if cfg.drop_exclusions:
                lower = _EXCLUSION_ACC.sub(" ", lower)
            lower = _NAME_PREFIX_ACC.sub("", _NAME_LEVEL_SUFFIX_ACC.sub(" ", lower))
            pieces = list(map(self.pieces.__getitem__, lower.split()))
        pairs: Iterable[tuple[str, str]] = map(self.pieces.acc_pairs.__getitem__,
                                               dict.fromkeys(chain.from_iterable([w for _, _, w in pieces])))
        if bare is not fuzzy:  # words of the scope phrase do not count (see sim_names)
            kept = set(uniq_terms)
            pairs = [pr for pr in pairs if pr[1] in kept]
        return _NameInfo(fuzzy, bare, counts, length, multi, uniq_terms, scope if scope.any else None,
                         len(name_f), tuple(pairs))


def _split_phrases(text: str) -> list[list[str]]:
    """Tokens per ';'-separated part, so word pairs never span two keywords or subjects."""
    return [tokens(part) for part in text.split(";") if part.strip()]


def _scope_adjust(sc: NameScope, q: QueryScope, org_adj: float, foreign_adj: float,
                  no_permit_adj: float, cfg: SearchConfig) -> float:
    """Bonus or penalty of a scoped variant (kb.scopes) for this query."""
    adj = 0.0
    if sc.org:
        adj += org_adj
    if sc.foreign:
        adj += foreign_adj
    if sc.no_permit:
        adj += no_permit_adj
    if sc.age is not None and q.age is not None:
        adj += cfg.age_bonus if age_fits(q.age, sc.age) else -cfg.age_penalty
    return adj


def _group_cover(gfull, present: set[str], idf) -> float:
    """Share of the query's information (concept groups, see SearchIndex._analyse) in ``present``."""
    return _coverage(_cover_weights(gfull, idf), present, None, 0.0)


def _cover_weights(gfull, idf) -> list[tuple[float, frozenset[str], list[tuple[tuple[tuple[str, float], ...], float, float]]]]:
    """The concept groups for :func:`_coverage`: per group its share, its words, and per
    alternative of positive mass its (word, idf) pairs, mass and credit."""
    return [(share, frozenset(t for alt, _, _ in g for t in alt),
             [(tuple((t, idf[t]) for t in alt), tot, credit) for alt, tot, credit in g if tot])
            for share, g in gfull]


def _coverage(gw, matched: set[str], extra: set[str] | None, dcredit: float) -> float:
    """Share of the query's information a procedure matches: per concept group the best
    alternative's credit x (idf of its words in ``matched`` + ``dcredit`` x idf of those only in
    the procedure's details, ``extra``) / its mass. The sums run in the same order as ever; a
    group with none of its words matched adds 0.0 and is skipped (the same float)."""
    cov = 0.0
    for share, words, g in gw:
        if matched.isdisjoint(words) and (not extra or extra.isdisjoint(words)):
            continue
        best = 0.0
        for alt, tot, credit in g:
            found = sum([w for t, w in alt if t in matched])
            if extra:
                found += dcredit * sum([w for t, w in alt if t in extra])
            got = credit * found / tot
            if got > best:
                best = got
        cov += share * best
    return cov


# Letters citizens confuse (regional pronunciation): a short word may be corrected across them.
_CONFUSABLE_FIRST = {frozenset(p) for p in (("s", "x"), ("c", "t"), ("d", "g"), ("d", "r"), ("g", "r"),
                                             ("l", "n"), ("c", "k"), ("v", "d"))}


def _correct(index: SearchIndex, tok: str, typed: str = "") -> list[tuple[str, float]]:
    """Index words within edit distance 1 (short words) or 2 (7+ letters), best first.

    Chat spellings ("fép" -> phép) are tried first. Words of 3-4 letters are corrected only when
    they could be Vietnamese syllables ("qwe", "xyz" are not), and 3-letter words only to a word
    with the same (or a commonly confused) first letter - "mấc" -> mất, not "qwe" -> que. A word
    typed with accents must also be close with its accents: "mấc" -> "mất" (one letter), but not
    "hôm" -> "hội" (letter and tone: a correctly spelt word we simply do not have)."""
    for v in teencode_variants(tok):
        if v in index.postings:
            return [(v, 0.9)]
    n = len(tok)
    if n < 3:
        return []
    if n <= 4 and not is_syllable(tok):
        return []
    max_d = 1 if n < 7 else 2
    cands: list[str] = []
    for L in range(n - max_d, n + max_d + 1):
        cands.extend(index.vocab_by_len.get(L, ()))
    if not cands:
        return []
    found = process.extract(tok, cands, scorer=Levenshtein.distance, score_cutoff=max_d, limit=None)
    if not found:
        return []
    if n <= 3:
        found = [f for f in found if f[0][0] == tok[0] or frozenset((f[0][0], tok[0])) in _CONFUSABLE_FIRST]
    if typed and typed != tok and len(typed) == n:
        found = [f for f in found
                 if any(Levenshtein.distance(typed, a, score_cutoff=max_d) <= max_d
                        for a in index.accented.get(f[0], (f[0],)))]
    if not found:
        return []
    best = min(d for _, d, _ in found)
    out = []
    for word, dist, _ in sorted(found, key=lambda x: (x[1], -len(index.postings[x[0]][0]), x[0])):
        if dist == best:
            out.append((word, 1.0 - dist / (n + 1)))
    return out[:8]  # the caller keeps two: those that fit the neighbouring words, else the commonest


_CONSONANTS = frozenset("bcdghklmnpqrstvxđ")


def _accent_slips(index: SearchIndex, typed: str, folded: str) -> list[tuple[str, float]]:
    n = len(typed)
    cands = []
    for L in (n - 1, n, n + 1):
        cands.extend(index.acc_by_len.get(L, ()))
    out: dict[str, float] = {}
    for w, _, _ in process.extract(typed, cands, scorer=Levenshtein.distance, score_cutoff=1, limit=8):
        f = fold(w)
        if f == folded or f not in index.postings:
            continue
        ops = Levenshtein.editops(typed, w)
        if len(ops) != 1:
            continue
        op = ops[0]
        chars = []
        if op.tag in ("replace", "delete"):
            chars.append(typed[op.src_pos])
        if op.tag in ("replace", "insert"):
            chars.append(w[op.dest_pos])
        if all(c in _CONSONANTS for c in chars):
            out.setdefault(f, (1.0 - 1 / (n + 1), w))
    # commoner words first (the likelier meaning), at most two: (folded, similarity, as spelt)
    return [(f, sim, w) for f, (sim, w) in sorted(out.items(), key=lambda x: (-len(index.postings[x[0]][0]), x[0]))[:2]]


def _filter(index: SearchIndex, level: str, field: str, agency: str) -> frozenset[int]:
    out = []
    for i in range(len(index.docs)):
        if level and level not in index.folded_level[i]:
            continue
        if field and field != index.folded_field[i]:
            continue
        if agency and agency not in index.folded_agency[i]:
            continue
        out.append(i)
    return frozenset(out)
