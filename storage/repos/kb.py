"""Procedures in the database: idempotent upserts (merge by code), version for rebuilds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select, update

from kb.importers.merge import merge
from kb.model import Procedure
from storage.models import KbVersion, ProcedureRow
from storage.repos.base import Repository


def content_hash(p: Procedure) -> str:
    blob = json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class UpsertCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)


class ProcedureRepo(Repository):
    async def upsert(self, procedures: Iterable[Procedure], now: datetime) -> UpsertCounts:
        """Merge each record into the stored one of the same code (kb.importers.merge):
        details are never lost to a catalogue row; re-importing the same data changes nothing."""
        incoming: dict[str, Procedure] = {}
        for p in procedures:  # a code twice in one import: merge them first
            incoming[p.code] = merge(incoming.get(p.code), p)
        counts = UpsertCounts()
        codes = list(incoming)
        existing: dict[str, ProcedureRow] = {}
        for i in range(0, len(codes), 500):
            rows = await self.session.execute(
                select(ProcedureRow).where(ProcedureRow.code.in_(codes[i:i + 500])))
            existing.update({r.code: r for r in rows.scalars()})
        for code, new in incoming.items():
            row = existing.get(code)
            if row is None:
                self.session.add(_row(new, now))
                counts.added += 1
                counts.codes.append(code)
                continue
            merged = merge(Procedure.from_dict(row.data), new)
            digest = content_hash(merged)
            if digest == row.content_hash:
                counts.unchanged += 1
                continue
            row.name, row.field, row.level = merged.name[:1000], merged.field[:300], merged.level[:100]
            row.source, row.data, row.content_hash = merged.source[:300], merged.to_dict(), digest
            row.updated_at = now
            counts.updated += 1
            counts.codes.append(code)
        await self.session.flush()
        if counts.added or counts.updated:
            await self.bump_version(now)
        return counts

    async def all(self) -> list[Procedure]:
        rows = await self.session.execute(select(ProcedureRow.data).order_by(ProcedureRow.code))
        return [Procedure.from_dict(d) for d in rows.scalars()]

    async def get(self, code: str) -> Procedure | None:
        row = await self.session.get(ProcedureRow, code)
        return Procedure.from_dict(row.data) if row else None

    async def count(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(ProcedureRow))).scalar_one()

    async def counts_by(self, column: str) -> list[tuple[str, int]]:
        col = getattr(ProcedureRow, column)
        rows = await self.session.execute(
            select(col, func.count()).group_by(col).order_by(func.count().desc(), col))
        return [(v or "", n) for v, n in rows.all()]

    async def version(self) -> int:
        row = await self.session.get(KbVersion, 1, populate_existing=True)
        return row.version if row else 0

    async def bump_version(self, now: datetime) -> int:
        stmt = self.insert(KbVersion).values(id=1, version=1, changed_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["id"],
                                          set_={"version": KbVersion.version + 1, "changed_at": now})
        await self.session.execute(stmt)
        return await self.version()


def _row(p: Procedure, now: datetime) -> ProcedureRow:
    return ProcedureRow(code=p.code, name=p.name[:1000], field=p.field[:300], level=p.level[:100],
                        source=p.source[:300], data=p.to_dict(), content_hash=content_hash(p),
                        created_at=now, updated_at=now)
