"""The SIPAS report model: every figure leadership reads, computed from the database by
plain functions (``compute_report`` is pure; ``build_report`` fetches and calls it).

Definitions (README "Satisfaction reports" says the same):
- The period is the date the case was resolved (local time), ``start``..``end`` inclusive.
- Satisfaction is counted per answer to a 5-point question: *satisfied* = 4 or 5; the
  share is satisfied answers / answers given (skipped questions are not answers); the mean
  is the average score (1–5).
- PAKN satisfaction: the 5-point answers of surveys about PAKN cases.
- Circular 01/2018 indices: the average points (0–2) per dossier for each citizen-rated
  index; the citizen-rated subtotal is the sum of those averages (maximum 2 × number of
  indices). The agency grade of the Circular (≥ 15 xuất sắc … < 6 yếu) is defined on all 9
  indices (18 points), 5 of which other systems compute; the grade shown is an internal
  estimate that scales the citizen-rated subtotal to 18 points [I].
- PAKN on time: share of answered PAKN whose publisher said on time; answer time: days
  from receipt to answer (mean and median).
- Response rate: surveys with at least one answer / surveys that reached the citizen.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from bot.surveys.questionnaire import SATISFIED_MIN, Questionnaire, parse_questionnaire

if TYPE_CHECKING:
    from bot.config import ReportsConfig
    from storage.repos.surveys import AnswerCount, AnswerRow
    from storage.uow import UnitOfWork

CHANNEL_LABELS = {"telegram": "Telegram", "zalo_oa": "Zalo OA", "zalo_bot": "Zalo Bot",
                  "web": "Web (Cổng)", "console": "Thử nghiệm", "memory": "Thử nghiệm"}
CASE_LABELS = {"dossier": "Hồ sơ TTHC", "pakn": "Phản ánh, kiến nghị"}
# Circular 01/2018/TT-VPCP Art. 15: agency grade from the average total of the 9 indices.
GRADE_BANDS = ((15.0, "Xuất sắc"), (12.0, "Tốt"), (9.0, "Khá"), (6.0, "Trung bình"), (float("-inf"), "Yếu"))
INDEX_MAX_TOTAL = 18.0


def grade(total_18: float | None) -> str:
    if total_18 is None:
        return ""
    return next(label for floor, label in GRADE_BANDS if total_18 >= floor)


@dataclass(frozen=True)
class Score:
    """A 5-point figure: answers, satisfied answers, sum of scores."""

    n: int = 0
    satisfied: int = 0
    total: int = 0

    @property
    def share(self) -> float | None:
        return 100.0 * self.satisfied / self.n if self.n else None

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def add(self, value: int, times: int = 1) -> "Score":
        return Score(self.n + times, self.satisfied + times * (value >= SATISFIED_MIN), self.total + times * value)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    score: Score


@dataclass(frozen=True)
class Figure:
    """A headline figure next to its target."""

    label: str
    value: float | None
    target: float | None
    count: int  # how many cases/answers the value is computed from
    unit: str = "%"

    @property
    def gap(self) -> float | None:
        if self.value is None or self.target is None:
            return None
        return self.value - self.target

    @property
    def met(self) -> bool | None:
        gap = self.gap
        return None if gap is None else gap >= 0


@dataclass(frozen=True)
class IndexRow:
    index: int
    key: str
    label: str
    n: int
    mean_points: float | None


@dataclass(frozen=True)
class AgencyGrade:
    agency: str
    dossiers: int  # dossiers with at least one index answered
    subtotal: float | None  # sum of the per-index average points
    max_subtotal: float
    estimated_total: float | None  # subtotal scaled to 18 points [I]

    @property
    def band(self) -> str:
        return grade(self.estimated_total)


@dataclass(frozen=True)
class Pakn:
    answered: int
    on_time_known: int
    on_time: int
    mean_days: float | None
    median_days: float | None

    @property
    def on_time_share(self) -> float | None:
        return 100.0 * self.on_time / self.on_time_known if self.on_time_known else None


@dataclass(frozen=True)
class Response:
    resolved: int  # cases resolved in the period
    queued: int  # surveys queued (not "not sent")
    reached: int  # first message delivered
    answered: int  # at least one answer
    completed: int  # every question answered
    opted_out: int

    @property
    def rate(self) -> float | None:
        return 100.0 * self.answered / self.reached if self.reached else None

    @property
    def completion(self) -> float | None:
        return 100.0 * self.completed / self.reached if self.reached else None


@dataclass
class SipasReport:
    start: date
    end: date
    agency: str | None
    headline: list[Figure]
    by_factor: list[Row]
    by_question: list[Row]
    by_agency: list[Row]
    by_field: list[Row]
    by_channel: list[Row]
    by_case_type: list[Row]
    by_month: list[Row]
    indices: list[IndexRow]
    grades: list[AgencyGrade]
    pakn: Pakn
    response: Response
    answers: list["AnswerRow"] = field(default_factory=list)
    question_texts: dict[str, str] = field(default_factory=dict)
    factor_names: dict[str, str] = field(default_factory=dict)


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight of start, local midnight after end) as aware datetimes."""
    if end < start:
        raise ValueError("the end date is before the start date")
    return (datetime.combine(start, time(0), tz),
            datetime.combine(end + timedelta(days=1), time(0), tz))


def _group(counts: Iterable["AnswerCount"], key: Callable[["AnswerCount"], str]) -> dict[str, Score]:
    out: dict[str, Score] = defaultdict(Score)
    for c in counts:
        out[key(c)] = out[key(c)].add(c.value, c.n)
    return dict(out)


def _rows(groups: dict[str, Score], label: Callable[[str], str], order: Sequence[str] | None = None) -> list[Row]:
    keys = [k for k in order if k in groups] if order is not None else sorted(groups)
    return [Row(k, label(k), groups[k]) for k in keys]


def compute_report(*, start: date, end: date, agency: str | None, counts: Sequence["AnswerCount"],
                   index_dossiers: dict[str, int], cases: dict[str, int],
                   pakn_times: Sequence[tuple[datetime, datetime | None, bool | None]],
                   questionnaires: Sequence[Questionnaire], targets: "ReportsConfig",
                   answers: Sequence["AnswerRow"] = ()) -> SipasReport:
    """Every figure of the report from the period's aggregated answers and cases (no
    database): ``counts`` are scored answers counted per case attributes and value."""
    factor_names: dict[str, str] = {}
    question_texts: dict[str, str] = {}
    question_order: list[str] = []
    index_meta: dict[str, tuple[int, str]] = {}
    for q in sorted(questionnaires, key=lambda q: q.version):  # later versions win for labels
        factor_names.update(dict(q.factors))
        for question in q.questions:
            question_texts[question.key] = question.text
            if question.key not in question_order:
                question_order.append(question.key)
            if question.kind == "index" and question.index is not None:
                index_meta[question.key] = (question.index, question.text)

    rated = [c for c in counts if c.kind == "rating"]
    indexed = [c for c in counts if c.kind == "index" and c.question_key in index_meta]
    overall = _group(rated, lambda c: "all").get("all", Score())
    pakn_score = _group([c for c in rated if c.case_type == "pakn"], lambda c: "pakn").get("pakn", Score())

    known = [ok for _, _, ok in pakn_times if ok is not None]
    days = [(resolved - received).total_seconds() / 86400 for resolved, received, _ in pakn_times
            if received is not None]
    pakn = Pakn(answered=len(pakn_times), on_time_known=len(known), on_time=sum(known),
                mean_days=statistics.fmean(days) if days else None,
                median_days=statistics.median(days) if days else None)
    response = Response(**cases)

    def target(value: float) -> float | None:
        return value if value > 0 else None

    headline = [
        Figure("Tỷ lệ hài lòng chung", overall.share, target(targets.target_satisfied), overall.n),
        Figure("Tỷ lệ hài lòng về giải quyết PAKN", pakn_score.share, target(targets.target_pakn_satisfied),
               pakn_score.n),
        Figure("Tỷ lệ PAKN giải quyết đúng hạn", pakn.on_time_share, target(targets.target_pakn_on_time),
               pakn.on_time_known),
        Figure("Tỷ lệ phản hồi khảo sát", response.rate, target(targets.target_response_rate), response.reached),
    ]

    per_index = _group(indexed, lambda c: c.question_key)
    indices = [IndexRow(index_meta[k][0], k, index_meta[k][1], per_index.get(k, Score()).n,
                        per_index.get(k, Score()).mean)
               for k in sorted(index_meta, key=lambda k: index_meta[k][0])]
    grades = _grades(indexed, index_dossiers, len(index_meta))
    unknown = "(chưa rõ)"
    return SipasReport(
        start=start, end=end, agency=agency, headline=headline,
        by_factor=_rows(_group(rated, lambda c: c.factor), lambda k: factor_names.get(k, k), list(factor_names)),
        by_question=_rows(_group(rated, lambda c: c.question_key), lambda k: question_texts.get(k, k),
                          question_order),
        by_agency=_rows(_group(rated, lambda c: c.agency or unknown), lambda k: k),
        by_field=_rows(_group(rated, lambda c: c.field or unknown), lambda k: k),
        by_channel=_rows(_group(rated, lambda c: c.channel or unknown), lambda k: CHANNEL_LABELS.get(k, k)),
        by_case_type=_rows(_group(rated, lambda c: c.case_type), lambda k: CASE_LABELS.get(k, k),
                           list(CASE_LABELS)),
        by_month=_rows(_group(rated, lambda c: c.month), lambda k: f"{k[5:]}/{k[:4]}"),
        indices=indices, grades=grades, pakn=pakn, response=response, answers=list(answers),
        question_texts=question_texts, factor_names=factor_names)


def _grades(indexed: Sequence["AnswerCount"], dossiers: dict[str, int], n_indices: int) -> list[AgencyGrade]:
    per_agency: dict[str, list["AnswerCount"]] = defaultdict(list)
    for c in indexed:
        per_agency[c.agency].append(c)
    out = []
    for name in sorted(per_agency):
        means = [s.mean for s in _group(per_agency[name], lambda c: c.question_key).values() if s.n]
        # Indices nobody answered are missing, not 0: scale by the answered ones.
        subtotal = sum(means) if means else None
        estimate = subtotal * INDEX_MAX_TOTAL / (2.0 * len(means)) if subtotal is not None else None
        out.append(AgencyGrade(name or "(chưa rõ)", dossiers.get(name, 0), subtotal, 2.0 * n_indices, estimate))
    return out


async def build_report(uow: "UnitOfWork", *, start: date, end: date, agency: str | None,
                       targets: "ReportsConfig", tz: ZoneInfo, with_answers: bool = False) -> SipasReport:
    """The report for cases resolved from ``start`` to ``end`` (local dates, inclusive);
    ``with_answers`` also loads every answer (the raw sheet of the export)."""
    from storage.repos.surveys import SurveyRepo

    repo = uow.repo(SurveyRepo)
    lo, hi = period_bounds(start, end, tz)
    contents = await repo.questionnaires(await repo.questionnaire_ids(lo, hi))
    return compute_report(
        start=start, end=end, agency=agency, counts=await repo.answer_counts(lo, hi, agency),
        index_dossiers=await repo.index_dossiers(lo, hi, agency), cases=await repo.case_counts(lo, hi, agency),
        pakn_times=await repo.pakn_times(lo, hi, agency),
        questionnaires=[parse_questionnaire(c) for c in contents.values()], targets=targets,
        answers=await repo.answers(lo, hi, agency) if with_answers else ())


@dataclass(frozen=True)
class DeliveryStats:
    """The outbox as the dashboard and the logs show it."""

    by_kind: dict[tuple[str, str], int]
    due: int
    oldest_due_minutes: float | None
    sent_last_hour: int
    sent_last_day: int
    recent_errors: list[dict[str, Any]]
    surveys: dict[str, int]

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for (_kind, status), n in self.by_kind.items():
            out[status] += n
        return dict(out)


async def delivery_stats(uow: "UnitOfWork", now: datetime) -> DeliveryStats:
    from storage.repos.outbox import OutboxRepo
    from storage.repos.surveys import SurveyRepo

    repo = uow.repo(OutboxRepo)
    oldest = await repo.oldest_due(now)
    errors = [{"id": m.id, "kind": m.kind, "status": m.status, "attempts": m.attempts,
               "error": (m.last_error or "")[:200], "channel": m.sent_channel or m.channel or ""}
              for m in await repo.recent_errors()]
    return DeliveryStats(
        by_kind=await repo.by_kind_and_status(), due=await repo.due_count(now),
        oldest_due_minutes=(now - oldest).total_seconds() / 60 if oldest else None,
        sent_last_hour=await repo.sent_since(now - timedelta(hours=1)),
        sent_last_day=await repo.sent_since(now - timedelta(days=1)),
        recent_errors=errors, surveys=await uow.repo(SurveyRepo).status_counts())
