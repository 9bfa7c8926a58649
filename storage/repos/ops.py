"""Read-only queries for operations (metrics) and the personal-data purge/erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import delete, func, select, update

from storage.models import ChannelIdentity, Citizen, ConversationState, MessageLog
from storage.models.channels import InboxUpdate
from storage.models.outbox import OutboxMessage
from storage.repos.base import Repository

ERASED_TEXT = "[đã xóa theo yêu cầu]"


class OpsQueries(Repository):
    async def inbox_pending(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(InboxUpdate.channel, func.count()).where(InboxUpdate.done_at.is_(None))
            .group_by(InboxUpdate.channel))
        return {ch: n for ch, n in rows.all()}


class PersonalData(Repository):
    """Deleting what the retention period no longer allows, and a citizen's erasure."""

    # -- retention ---------------------------------------------------------------------
    async def purge_messages_before(self, cutoff: datetime) -> int:
        r = await self.session.execute(delete(MessageLog).where(MessageLog.at < cutoff))
        return r.rowcount or 0

    async def purge_states_before(self, cutoff: datetime) -> int:
        r = await self.session.execute(delete(ConversationState).where(ConversationState.updated_at < cutoff))
        return r.rowcount or 0

    async def purge_inbox_before(self, cutoff: datetime) -> int:
        r = await self.session.execute(delete(InboxUpdate).where(InboxUpdate.received_at < cutoff,
                                                                 InboxUpdate.done_at.is_not(None)))
        return r.rowcount or 0

    async def purge_outbox_before(self, cutoff: datetime) -> int:
        """Finished outbox rows (sent, failed, unreachable, expired, cancelled)."""
        r = await self.session.execute(delete(OutboxMessage).where(
            OutboxMessage.created_at < cutoff,
            OutboxMessage.status.in_(("sent", "failed", "unreachable", "expired", "cancelled"))))
        return r.rowcount or 0

    async def forget_names_inactive_since(self, cutoff: datetime) -> int:
        """Display names of citizens with no channel activity since ``cutoff``."""
        active = select(ChannelIdentity.citizen_id).where(ChannelIdentity.last_inbound_at >= cutoff)
        r = await self.session.execute(
            update(Citizen).where(Citizen.display_name.is_not(None), Citizen.id.not_in(active))
            .values(display_name=None))
        return r.rowcount or 0

    # -- a citizen's erasure -----------------------------------------------------------
    async def erase_messages(self, citizen_id: int, chats: list[tuple[str, str]]) -> int:
        """Delete the citizen's message log (by citizen and by each of their chats)."""
        n = (await self.session.execute(delete(MessageLog).where(MessageLog.citizen_id == citizen_id))).rowcount or 0
        for channel, chat_id in chats:
            n += (await self.session.execute(delete(MessageLog).where(
                MessageLog.channel == channel, MessageLog.chat_id == chat_id))).rowcount or 0
        return n

    async def erase_outbox(self, citizen_id: int, chats: list[tuple[str, str]]) -> int:
        """Cancel what was still to be sent and blank what was sent (texts may be personal)."""
        conds = [OutboxMessage.citizen_id == citizen_id]
        for channel, chat_id in chats:
            conds.append((OutboxMessage.channel == channel) & (OutboxMessage.chat_id == chat_id))
        from sqlalchemy import or_

        who = or_(*conds)
        await self.session.execute(update(OutboxMessage).where(who, OutboxMessage.status == "pending")
                                   .values(status="cancelled"))
        r = await self.session.execute(update(OutboxMessage).where(who).values(
            replies=[{"text": ERASED_TEXT}], template=None, chat_id=None, user_id=None))
        return r.rowcount or 0

    async def erase_inbox(self, chats: list[tuple[str, str]]) -> None:
        """Platform updates are stored raw; handled ones have no payload left. Unhandled
        ones of this citizen are not findable by chat cheaply; they are dropped on handling."""
        return None

    async def chats_of(self, citizen_id: int) -> list[tuple[str, str, str]]:
        rows = await self.session.execute(
            select(ChannelIdentity.channel, ChannelIdentity.chat_id, ChannelIdentity.user_id)
            .where(ChannelIdentity.citizen_id == citizen_id))
        return [(c, chat, user) for c, chat, user in rows.all()]

    async def detach_identities(self, old_citizen_id: int, new_citizen_id: int) -> int:
        r = await self.session.execute(
            update(ChannelIdentity).where(ChannelIdentity.citizen_id == old_citizen_id)
            .values(citizen_id=new_citizen_id))
        return r.rowcount or 0

    async def new_citizen(self, now: datetime) -> int:
        c = Citizen(display_name=None, created_at=now, updated_at=now)
        self.session.add(c)
        await self.session.flush()
        return c.id

    async def blank_citizen(self, citizen_id: int, now: datetime) -> None:
        await self.session.execute(update(Citizen).where(Citizen.id == citizen_id)
                                   .values(display_name=None, updated_at=now))

    async def clear_states(self, chats: list[tuple[str, str, str]]) -> None:
        for channel, chat_id, user_id in chats:
            await self.session.execute(delete(ConversationState).where(
                ConversationState.channel == channel, ConversationState.chat_id == chat_id,
                ConversationState.user_id == user_id))


class DossierPersonalData(Repository):
    """The dossier feature's personal tables (ownership proofs, subscriptions, counters)."""

    async def erase(self, citizen_id: int, new_citizen_id: int) -> dict[str, int]:
        from storage.models.dossiers import DossierOwnership, DossierRateEvent, DossierSubscription

        owners = (await self.session.execute(
            delete(DossierOwnership).where(DossierOwnership.citizen_id == citizen_id))).rowcount or 0
        subs = (await self.session.execute(
            delete(DossierSubscription).where(DossierSubscription.citizen_id == citizen_id))).rowcount or 0
        # Throttling counters follow the person: erasing must not reset the limits.
        await self.session.execute(update(DossierRateEvent).where(
            DossierRateEvent.subject == f"c{citizen_id}").values(subject=f"c{new_citizen_id}"))
        return {"dossier_ownership": owners, "dossier_subscriptions": subs}

    async def purge(self, ownership_cutoff: datetime, counters_cutoff: datetime) -> dict[str, int]:
        from storage.models.dossiers import DossierOwnership, DossierRateEvent, DossierSubscription

        owners = (await self.session.execute(delete(DossierOwnership).where(
            DossierOwnership.verified_at < ownership_cutoff))).rowcount or 0
        closed = (await self.session.execute(delete(DossierSubscription).where(
            DossierSubscription.active.is_(False),
            DossierSubscription.closed_at < ownership_cutoff))).rowcount or 0
        events = (await self.session.execute(delete(DossierRateEvent).where(
            DossierRateEvent.at < counters_cutoff))).rowcount or 0
        return {"dossier_ownership": owners, "dossier_subscriptions_closed": closed,
                "dossier_rate_events": events}


class PaknPersonalData(Repository):
    """PAKN: gauges for metrics, and the sender's personal data for erasure/retention.
    The item itself (kind, agency, state, dates, the published masked summary) stays: it
    is the statistics and the public record."""

    async def open_by_state(self) -> dict[str, int]:
        from storage.models.pakn import PaknItem

        rows = await self.session.execute(
            select(PaknItem.state, func.count()).where(PaknItem.state.in_(PAKN_OPEN))
            .group_by(PaknItem.state))
        return {s: n for s, n in rows.all()}

    async def overdue(self, today) -> int:
        from sqlalchemy import and_, or_

        from storage.models.pakn import PaknItem

        cond = or_(
            and_(PaknItem.state == "new", PaknItem.accept_due < today),
            and_(PaknItem.state.in_(("accepted", "in_progress", "needs_info")), PaknItem.answer_due < today),
            and_(PaknItem.state == "answered", PaknItem.publish_due.is_not(None), PaknItem.publish_due < today))
        return (await self.session.execute(select(func.count()).select_from(PaknItem).where(cond))).scalar_one()

    async def anonymise(self, *, citizen_id: int | None = None, closed_before: datetime | None = None,
                        new_citizen_id: int | None = None,
                        mask_public_text: Callable[[Any, str], str] | None = None) -> int:
        """Blank the sender's name, phone, address, e-mail, exact location and the
        conversation with staff of one citizen's items, or of items closed before a date.
        ``mask_public_text(item, text)`` first masks the sender's details in the staff answer and
        a typed procedure name, which the public page shows (masked with those details while
        they are known)."""
        from storage.models.pakn import PaknAttachment, PaknItem, PaknMessage

        if citizen_id is not None:
            where = PaknItem.citizen_id == citizen_id
        elif closed_before is not None:
            # finished items (answered and published, rejected, closed, forwarded out of the
            # system) untouched since the cut-off: most are never "closed"
            where = PaknItem.state.in_(PAKN_FINISHED) & (PaknItem.updated_at < closed_before) \
                & (PaknItem.full_name != ERASED_NAME)
        else:
            raise ValueError("anonymise needs a citizen or a cut-off")
        ids = [i for (i,) in (await self.session.execute(select(PaknItem.id).where(where))).all()]
        if not ids:
            return 0
        if mask_public_text is not None:  # the free text the public page shows, masked at display
            for item in (await self.session.execute(select(PaknItem).where(PaknItem.id.in_(ids)))).scalars().all():
                masked = {name: mask_public_text(item, getattr(item, name)) for name in ("answer", "procedure_name")
                          if getattr(item, name)}
                masked = {name: text for name, text in masked.items() if text != getattr(item, name)}
                if masked:
                    await self.session.execute(update(PaknItem).where(PaknItem.id == item.id).values(**masked))
        values: dict = {"full_name": ERASED_NAME, "phone": "", "address": None, "email": None,
                        "latitude": None, "longitude": None, "place": None, "content_key": ""}
        await self.session.execute(update(PaknItem).where(PaknItem.id.in_(ids)).values(**values))
        if citizen_id is not None and new_citizen_id is not None:
            # an open item still gets its answer: it follows the person to the new record;
            # closed ones stay with the anonymous one (statistics)
            await self.session.execute(update(PaknItem).where(
                PaknItem.id.in_(ids), PaknItem.state.in_(PAKN_OPEN)).values(citizen_id=new_citizen_id))
        await self.session.execute(update(PaknMessage).where(
            PaknMessage.item_id.in_(ids), PaknMessage.author.like("citizen%")).values(text=ERASED_TEXT))
        await self.session.execute(delete(PaknAttachment).where(PaknAttachment.item_id.in_(ids)))
        return len(ids)

    async def upload_refs(self) -> set[str]:
        """Every attachment ref still stored (``upload:<file name>`` for web-chat uploads)."""
        from storage.models.pakn import PaknAttachment

        rows = await self.session.execute(select(PaknAttachment.ref).where(PaknAttachment.ref.like("upload:%")))
        return {ref for (ref,) in rows.all()}


PAKN_OPEN = ("new", "accepted", "needs_info", "in_progress", "forwarded", "answered")
PAKN_FINISHED = ("published", "rejected", "closed", "forwarded")
ERASED_NAME = "[đã ẩn danh]"


class SurveyPersonalData(Repository):
    """Surveys: scores stay (the SIPAS statistics); free-text comments and the link to the
    person go."""

    async def erase(self, citizen_id: int, new_citizen_id: int | None = None) -> dict[str, int]:
        """Detach the person's surveys and drop their comments. An opt-out ("Không nhận
        khảo sát") is their wish, not data about them: it follows them to the new record
        their channel accounts move to (only the citizen id, channel and date are kept)."""
        from storage.models.surveys import Survey, SurveyAnswer, SurveyOptOut

        ids = [i for (i,) in (await self.session.execute(
            select(Survey.id).where(Survey.citizen_id == citizen_id))).all()]
        comments = 0
        if ids:
            comments = (await self.session.execute(update(SurveyAnswer).where(
                SurveyAnswer.survey_id.in_(ids), SurveyAnswer.text.is_not(None)).values(text=None))).rowcount or 0
            await self.session.execute(update(Survey).where(Survey.id.in_(ids)).values(citizen_id=None))
        if new_citizen_id is not None:
            await self.session.execute(update(SurveyOptOut).where(SurveyOptOut.citizen_id == citizen_id)
                                       .values(citizen_id=new_citizen_id))
        else:
            await self.session.execute(delete(SurveyOptOut).where(SurveyOptOut.citizen_id == citizen_id))
        return {"surveys_detached": len(ids), "survey_comments": comments}

    async def purge(self, resolved_before: datetime) -> dict[str, int]:
        """Surveys of cases resolved before the cut-off keep their scores without the
        comments and the link to the person (an opt-out stays: it is the citizen's wish)."""
        from storage.models.surveys import Survey, SurveyAnswer

        ids = select(Survey.id).where(Survey.resolved_at < resolved_before)
        comments = (await self.session.execute(update(SurveyAnswer).where(
            SurveyAnswer.survey_id.in_(ids), SurveyAnswer.text.is_not(None)).values(text=None))).rowcount or 0
        detached = (await self.session.execute(update(Survey).where(
            Survey.resolved_at < resolved_before, Survey.citizen_id.is_not(None)).values(citizen_id=None))).rowcount or 0
        return {"surveys_detached": detached, "survey_comments": comments}
