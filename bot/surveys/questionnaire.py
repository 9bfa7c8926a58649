"""Questionnaires: versioned data (YAML), not code.

A questionnaire has an ``id`` and a ``version``, the SIPAS factor names, the 5-point
rating scale and a list of questions. Each question is one of

- ``index`` — a citizen-rated index of Circular 01/2018/TT-VPCP, scored 2 / 1 / 0;
- ``rating`` — a 5-point question tagged with one of the five SIPAS factors;
- ``comment`` — free text.

``applies_to`` says which cases ask it (``dossier``, ``pakn``); ``optional`` (true or a list
of case types) adds a "Bỏ qua" button. The questions a survey asks are
``questions_for(case_type)``, numbered from 1 in that order — the number the answer
buttons carry. The content is stored in the database when first used (see
``SurveyRepo.ensure_questionnaire``), so a survey keeps the version it was sent with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).parent / "questionnaires" / "default.yaml"
CASE_TYPES = ("dossier", "pakn")
KINDS = ("index", "rating", "comment")
SATISFIED_MIN = 4  # "hài lòng" = 4 or 5 on the 5-point scale


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be used; the message names the place."""


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Question:
    key: str
    kind: str
    text: str
    applies_to: tuple[str, ...]
    options: tuple[Option, ...] = ()
    factor: str = ""  # rating questions: the SIPAS factor key
    index: int | None = None  # index questions: the Circular 01/2018 index number
    optional_for: tuple[str, ...] = ()
    texts: tuple[tuple[str, str], ...] = ()  # per case type wording ("text_pakn")

    def text_for(self, case_type: str) -> str:
        return dict(self.texts).get(case_type, self.text)

    def is_optional(self, case_type: str) -> bool:
        return case_type in self.optional_for

    def accepts(self, value: int) -> bool:
        return any(o.value == value for o in self.options)


@dataclass(frozen=True)
class Questionnaire:
    code: str
    version: int
    title: str
    factors: tuple[tuple[str, str], ...]
    questions: tuple[Question, ...]
    raw: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, ensure_ascii=False)
                              .encode()).hexdigest()

    def factor_name(self, key: str) -> str:
        return dict(self.factors).get(key, key)

    def questions_for(self, case_type: str) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if case_type in q.applies_to)

    def question(self, case_type: str, number: int) -> Question | None:
        qs = self.questions_for(case_type)
        return qs[number - 1] if 1 <= number <= len(qs) else None


def load_questionnaire(path: str | Path | None = None) -> Questionnaire:
    p = Path(path) if path else DEFAULT_PATH
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuestionnaireError(f"{p}: questionnaire file not found") from None
    except yaml.YAMLError as exc:
        raise QuestionnaireError(f"{p}: not valid YAML: {exc}") from None
    try:
        return parse_questionnaire(data)
    except QuestionnaireError as exc:
        raise QuestionnaireError(f"{p}: {exc}") from None


def parse_questionnaire(data: Any) -> Questionnaire:
    """Build and check a questionnaire from its plain (YAML/JSON) shape."""
    if not isinstance(data, dict):
        raise QuestionnaireError("expected a mapping at the top")
    code = data.get("id")
    version = data.get("version")
    if not isinstance(code, str) or not code.strip():
        raise QuestionnaireError("id: required text")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise QuestionnaireError("version: required whole number ≥ 1")
    factors = data.get("factors") or {}
    if not isinstance(factors, dict) or not factors:
        raise QuestionnaireError("factors: required mapping of factor key to name")
    scale = _options(data.get("rating_scale"), "rating_scale")
    if sorted(o.value for o in scale) != [1, 2, 3, 4, 5]:
        raise QuestionnaireError("rating_scale: needs exactly the values 1 to 5")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise QuestionnaireError("questions: required list")
    questions: list[Question] = []
    seen: set[str] = set()
    for i, q in enumerate(raw_questions):
        where = f"questions[{i}]"
        if not isinstance(q, dict):
            raise QuestionnaireError(f"{where}: expected a mapping")
        key = q.get("key")
        if not isinstance(key, str) or not key or len(key) > 40 or key in seen:
            raise QuestionnaireError(f"{where}.key: required, unique, at most 40 characters")
        seen.add(key)
        kind = q.get("kind")
        if kind not in KINDS:
            raise QuestionnaireError(f"{where}.kind: one of {', '.join(KINDS)}")
        text = q.get("text")
        if not isinstance(text, str) or not text.strip():
            raise QuestionnaireError(f"{where}.text: required")
        applies = tuple(q.get("applies_to") or ())
        if not applies or any(a not in CASE_TYPES for a in applies):
            raise QuestionnaireError(f"{where}.applies_to: a list of {', '.join(CASE_TYPES)}")
        optional = q.get("optional", False)
        optional_for = applies if optional is True else tuple(optional or ())
        if any(a not in applies for a in optional_for):
            raise QuestionnaireError(f"{where}.optional: true, false or a list of case types it applies to")
        texts = tuple((ct, q[f"text_{ct}"]) for ct in CASE_TYPES if isinstance(q.get(f"text_{ct}"), str))
        factor, index, options = "", None, scale
        if kind == "rating":
            factor = q.get("factor", "")
            if factor not in factors:
                raise QuestionnaireError(f"{where}.factor: one of {', '.join(factors)}")
        elif kind == "index":
            index = q.get("index")
            if not isinstance(index, int) or not 1 <= index <= 9:
                raise QuestionnaireError(f"{where}.index: the Circular 01/2018 index number (1–9)")
            options = _options(q.get("choices"), f"{where}.choices")
            if sorted(o.value for o in options) != [0, 1, 2]:
                raise QuestionnaireError(f"{where}.choices: needs exactly the points 2, 1 and 0")
        else:
            options = ()
        questions.append(Question(key=key, kind=kind, text=text.strip(), applies_to=applies,
                                  options=options, factor=factor, index=index,
                                  optional_for=optional_for, texts=texts))
    for ct in CASE_TYPES:
        if not any(ct in q.applies_to and q.kind != "comment" for q in questions):
            raise QuestionnaireError(f"questions: none applies to {ct}")
    return Questionnaire(code=code.strip(), version=version, title=str(data.get("title", "")),
                         factors=tuple((str(k), str(v)) for k, v in factors.items()),
                         questions=tuple(questions), raw=data)


def _options(raw: Any, where: str) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not raw:
        raise QuestionnaireError(f"{where}: required list of {{value, label}}")
    out = []
    for j, o in enumerate(raw):
        if not isinstance(o, dict) or not isinstance(o.get("value"), int) \
                or not isinstance(o.get("label"), str) or not o["label"].strip():
            raise QuestionnaireError(f"{where}[{j}]: needs a whole-number value and a label")
        out.append(Option(o["value"], o["label"].strip()))
    return tuple(out)
