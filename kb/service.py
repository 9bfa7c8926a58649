"""The knowledge base as a running service: procedures in the database, the search index
in memory, rebuilt when the knowledge base changes (any worker's import bumps a version
number that every worker checks).

``setup(app)`` wires it: at start-up an empty database gets the bundled knowledge base,
then the index is built; a scheduled job rebuilds it when the version changes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from kb.canonical import load_bundled
from kb.importers import detect_and_parse
from kb.importers.common import RowError
from kb.model import Procedure
from kb.normalize import fold
from kb.search import SearchIndex, SearchResult
from storage.db import Database
from storage.repos.kb import ProcedureRepo, UpsertCounts

if TYPE_CHECKING:
    from bot.app import App
    from bot.clock import Clock

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


_THU_TUC = re.compile(r"^thu tuc\s+")  # "Thủ tục đăng ký khai sinh" sorts under "đăng ký"


def _level_order(level: str) -> int:
    """Commune-level procedures (what most citizens do) first, then province, then the rest."""
    folded = fold(level)
    return 0 if "xa" in folded.split() else 1 if "tinh" in folded.split() else 2


@dataclass
class FileReport:
    path: str
    parsed: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RowError] = field(default_factory=list)
    error: str = ""  # the whole file was refused (nothing imported from it)

    def line(self) -> str:
        if self.error:
            return f"{self.path}: NOT IMPORTED: {self.error}"
        return (f"{self.path}: {self.parsed} records: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.skipped)} skipped")


async def import_paths(db: Database, paths: Sequence[str | Path], now, *,
                       progress: Callable[[str, Iterable], Iterable] | None = None) -> list[FileReport]:
    """Import files into the database. Each file is parsed completely first and written in
    one transaction: a file that cannot be read leaves nothing half-imported; bad rows are
    skipped and reported with their line and reason."""
    reports: list[FileReport] = []
    for path in paths:
        report = FileReport(str(path))
        reports.append(report)
        records: list[Procedure] = []
        try:
            items = detect_and_parse(path)
            if progress is not None:
                items = progress(str(path), items)
            for item in items:
                if isinstance(item, RowError):
                    report.skipped.append(item)
                else:
                    records.append(item)
        except Exception as exc:  # unreadable, truncated, wrong format: refuse the file
            report.error = f"{type(exc).__name__}: {exc}"
            continue
        report.parsed = len(records)
        if not records and report.skipped:  # nothing usable: the file itself is bad
            report.error = f"no valid record ({report.skipped[0]})"
            continue
        async with db.unit_of_work() as uow:
            counts: UpsertCounts = await uow.repo(ProcedureRepo).upsert(records, now)
        report.added, report.updated, report.unchanged = counts.added, counts.updated, counts.unchanged
    return reports


class KnowledgeBase:
    """The current index plus the version it was built from."""

    def __init__(self, db: Database, clock: "Clock") -> None:
        self.db = db
        self.clock = clock
        self.index: SearchIndex = SearchIndex.build([])
        self.version = -1
        self._lock = asyncio.Lock()
        self._fields: dict[str, list[Procedure]] = {}
        self._fields_of: SearchIndex | None = None

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, **kw) -> SearchResult:
        return self.index.search(query, **kw)

    def get(self, code: str) -> Procedure | None:
        return self.index.get(code)

    # -- browsing by field -------------------------------------------------------------------
    def _by_field(self) -> dict[str, list[Procedure]]:
        """Procedures per field of the current index (built once per index): the citizen-level
        variant first (commune, then province), then by name."""
        index = self.index
        if self._fields_of is not index:
            groups: dict[str, list[Procedure]] = {}
            for p in index.docs:
                if p.field:
                    groups.setdefault(p.field, []).append(p)
            for procs in groups.values():
                procs.sort(key=lambda p: (_level_order(p.level), _THU_TUC.sub("", fold(p.name))))
            self._fields, self._fields_of = groups, index
        return self._fields

    def browse_fields(self, wanted: Sequence[str], limit: int = 10) -> list[tuple[str, int]]:
        """(field, number of procedures) to offer for browsing: the ``wanted`` fields the
        knowledge base has, in that order (accents and case ignored); the largest fields when
        ``wanted`` is empty."""
        groups = self._by_field()
        if not wanted:
            largest = sorted(groups, key=lambda f: (-len(groups[f]), fold(f)))
            return [(f, len(groups[f])) for f in largest[:limit]]
        by_folded = {fold(f): f for f in groups}
        out = []
        for name in wanted:
            f = by_folded.get(fold(name))
            if f is not None and all(f != seen for seen, _ in out):
                out.append((f, len(groups[f])))
        return out[:limit]

    def in_field(self, field: str) -> list[Procedure]:
        return list(self._by_field().get(field, ()))

    async def ensure_seeded(self) -> int:
        """An empty knowledge base gets the bundled procedures (the embedded default)."""
        async with self.db.unit_of_work() as uow:
            if await uow.repo(ProcedureRepo).count():
                return 0
        bundled = load_bundled()
        from sqlalchemy.exc import IntegrityError

        try:
            async with self.db.unit_of_work() as uow:
                repo = uow.repo(ProcedureRepo)
                if await repo.count():  # another worker seeded meanwhile
                    return 0
                counts = await repo.upsert(bundled, self.clock.now())
        except IntegrityError:  # workers starting together: another one seeded it first
            log.info("bundled knowledge base seeded by another worker")
            return 0
        log.info("bundled knowledge base loaded", extra={"procedures": counts.added})
        return counts.added

    async def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the index when the stored knowledge base changed; True if rebuilt."""
        async with self._lock:
            async with self.db.unit_of_work() as uow:
                repo = uow.repo(ProcedureRepo)
                version = await repo.version()
                if version == self.version and not force:
                    return False
                procedures = await repo.all()
            self.index = await asyncio.to_thread(SearchIndex.build, procedures)
            self.version = version
        log.info("knowledge base index built", extra={"procedures": len(self.index), "version": version})
        return True


def setup(app: "App") -> None:
    kb = KnowledgeBase(app.db, app.services.clock)
    app.services.kb = kb

    async def load() -> None:
        if kb.version < 0:  # never loaded: seed an empty database first
            await kb.ensure_seeded()
        await kb.refresh()

    async def start() -> None:
        try:
            await load()
        except Exception as exc:  # the database may be down: keep serving, retry in the job
            log.error("knowledge base not loaded at start-up, will retry",
                      extra={"error": f"{type(exc).__name__}: {exc}"[:300]})

    app.on_startup(start)
    app.scheduler.every(REFRESH_SECONDS, "kb.refresh")(load)


def terminal_progress(label: str, items: Iterable) -> Iterable:
    """A progress bar on a terminal (tqdm), nothing when output is redirected."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=Path(label).name, unit=" records", file=sys.stderr)
