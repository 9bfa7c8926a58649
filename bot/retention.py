"""Personal-data retention and a citizen's erasure request.

**Retention** (``tthc-bot privacy purge``, and the ``privacy.purge`` job every
``privacy.purge_interval_hours``): conversations older than ``privacy.retention_days`` —
the message log, conversation states, handled platform updates and finished outbox
messages — are deleted; display names of citizens inactive that long are forgotten;
proven dossier ownership, closed subscriptions and throttling counters go after
``privacy.ownership_retention_days``.

**Erasure** ("xóa dữ liệu của tôi", :func:`erase_citizen`): in one transaction, the
citizen's message log and outgoing messages are deleted or blanked, dossier ownership and
subscriptions deleted, and their channel accounts moved to a fresh citizen record. The old
record stays as an anonymous shell, so rows that feed statistics (a PAKN's state and
dates, survey scores) keep counting without pointing at a person.

Features with their own personal data register an eraser and a purger with
:func:`register`: PAKN anonymises the sender's name, phone, address, e-mail, exact place,
their messages to staff and attachments (open items follow the person so the answer still
reaches them); surveys keep the scores, drop comments and the link to the person (on
erasure, and after the retention period).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from storage.repos.ops import DossierPersonalData, PaknPersonalData, PersonalData, SurveyPersonalData

if TYPE_CHECKING:
    from bot.config import Config
    from storage.db import Database
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# erase(uow, old_citizen_id, new_citizen_id, now) -> counts; purge(uow, config, now) -> counts
UPDATE_IDS_DAYS = 30
Eraser = Callable[["UnitOfWork", int, int, datetime], Awaitable[dict[str, int]]]
Purger = Callable[["UnitOfWork", "Config", datetime], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class _Feature:
    name: str
    erase: Eraser | None
    purge: Purger | None


_features: dict[str, _Feature] = {}


def register(name: str, *, erase: Eraser | None = None, purge: Purger | None = None) -> None:
    """A feature's part of the erasure and of the retention purge (idempotent by name)."""
    _features[name] = _Feature(name, erase, purge)


async def _dossiers_erase(uow: "UnitOfWork", old: int, new: int, now: datetime) -> dict[str, int]:
    return await uow.repo(DossierPersonalData).erase(old, new)


async def _dossiers_purge(uow: "UnitOfWork", config: "Config", now: datetime) -> dict[str, int]:
    keep = timedelta(days=config.privacy.ownership_retention_days)
    counters = timedelta(minutes=max(config.dossiers.proof_window_minutes, 60), days=1)
    return await uow.repo(DossierPersonalData).purge(now - keep, now - counters)


register("dossiers", erase=_dossiers_erase, purge=_dossiers_purge)


async def _pakn_erase(uow: "UnitOfWork", old: int, new: int, now: datetime) -> dict[str, int]:
    from bot.pakn.service import public_text

    return {"pakn_items_anonymised": await uow.repo(PaknPersonalData).anonymise(
        citizen_id=old, new_citizen_id=new, mask_public_text=public_text)}


# An upload no item refers to is kept this long (a form being filled in refers to it only
# from its conversation state, which the idle timeout ends within the hour).
ORPHAN_UPLOAD_GRACE = timedelta(days=1)


async def _pakn_purge(uow: "UnitOfWork", config: "Config", now: datetime) -> dict[str, int]:
    """Finished PAKN (published, rejected, closed, forwarded) untouched for the retention
    period keep their record (kind, agency, dates, the published masked summary) without
    the sender's personal data. Web-chat uploads no item refers to any more (anonymised or
    erased items, forms never sent) are deleted from ``pakn.upload_dir``."""
    cutoff = now - timedelta(days=config.privacy.retention_days)
    repo = uow.repo(PaknPersonalData)
    from bot.pakn.service import public_text

    counts = {"pakn_items_anonymised": await repo.anonymise(closed_before=cutoff, mask_public_text=public_text)}
    counts["pakn_upload_files"] = _delete_orphan_uploads(Path(config.pakn.upload_dir), await repo.upload_refs(),
                                                         now - ORPHAN_UPLOAD_GRACE)
    return counts


# Only what the web upload writes (bot/channels/web_upload.py): a random name and its
# extension, or an unfinished ".part-" file. Anything else in the directory (a misconfigured
# upload_dir pointing at var/ and its database) is never touched.
UPLOAD_NAME = re.compile(r"^(?:[A-Za-z0-9_-]{24}\.[A-Za-z0-9]{1,5}|\.part-[0-9a-f]{24})$")


def _delete_orphan_uploads(directory: Path, refs: set[str], older_than: datetime) -> int:
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in directory.iterdir():
        try:
            if not UPLOAD_NAME.match(path.name) or not path.is_file() or f"upload:{path.name}" in refs \
                    or path.stat().st_mtime >= older_than.timestamp():
                continue
            path.unlink()
            deleted += 1
        except OSError as exc:
            log.warning("upload not deleted", extra={"file": path.name, "error": type(exc).__name__})
    return deleted


async def _surveys_erase(uow: "UnitOfWork", old: int, new: int, now: datetime) -> dict[str, int]:
    return await uow.repo(SurveyPersonalData).erase(old, new)


async def _surveys_purge(uow: "UnitOfWork", config: "Config", now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=config.privacy.retention_days)
    return await uow.repo(SurveyPersonalData).purge(cutoff)


register("pakn", erase=_pakn_erase, purge=_pakn_purge)
register("surveys", erase=_surveys_erase, purge=_surveys_purge)


@dataclass(frozen=True)
class Erasure:
    old_citizen_id: int
    new_citizen_id: int
    counts: dict[str, int]


async def erase_citizen(uow: "UnitOfWork", citizen_id: int, now: datetime) -> Erasure:
    """Erase a citizen's personal data in the caller's transaction (see module doc)."""
    pd = uow.repo(PersonalData)
    chats3 = await pd.chats_of(citizen_id)
    chats = [(c, chat) for c, chat, _u in chats3]
    counts = {"message_log": await pd.erase_messages(citizen_id, chats),
              "outbox": await pd.erase_outbox(citizen_id, chats)}
    new_id = await pd.new_citizen(now)
    for feature in _features.values():
        if feature.erase is not None:
            async with uow.session.begin_nested():
                counts.update(await feature.erase(uow, citizen_id, new_id, now))
    await pd.clear_states(chats3)
    counts["identities"] = await pd.detach_identities(citizen_id, new_id)
    await pd.blank_citizen(citizen_id, now)
    await uow.audit.record(actor=f"citizen:{new_id}", action="privacy.erase", entity_type="citizen",
                           entity_id=str(citizen_id), details=counts, now=now)
    log.info("citizen data erased", extra={"citizen_id": citizen_id, "new_citizen_id": new_id,
                                           "counts": counts})
    return Erasure(citizen_id, new_id, counts)


async def purge(db: "Database", config: "Config", now: datetime) -> dict[str, int]:
    """Delete what the retention periods no longer allow; returns counts per table."""
    p = config.privacy
    cutoff = now - timedelta(days=p.retention_days)
    counts: dict[str, int] = {}
    async with db.unit_of_work() as uow:
        pd = uow.repo(PersonalData)
        counts["message_log"] = await pd.purge_messages_before(cutoff)
        counts["conversation_states"] = await pd.purge_states_before(cutoff)
        # update ids only de-duplicate re-deliveries (minutes to days): a month is plenty
        counts["processed_updates"] = await uow.updates.purge_before(
            now - timedelta(days=min(p.retention_days, UPDATE_IDS_DAYS)))
        counts["channel_inbox"] = await pd.purge_inbox_before(cutoff)
        counts["outbox"] = await pd.purge_outbox_before(cutoff)
        counts["citizen_names"] = await pd.forget_names_inactive_since(cutoff)
    for feature in list(_features.values()):
        if feature.purge is None:
            continue
        try:
            async with db.unit_of_work() as uow:
                counts.update(await feature.purge(uow, config, now))
        except Exception:
            log.exception("privacy purge failed for a feature", extra={"feature": feature.name})
    async with db.unit_of_work() as uow:
        await uow.audit.record(actor="system", action="privacy.purge", details=counts, now=now)
    log.info("privacy purge", extra={"counts": counts, "retention_days": p.retention_days})
    return counts
