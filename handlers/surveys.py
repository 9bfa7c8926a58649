"""The survey conversation: answers arrive as buttons (``sv:<survey>:<question>:<value>``)
from any state, even hours later; typed numbers or labels work too when a survey is
waiting; "không nhận khảo sát" (typed or the button) opts the citizen out.

The free comment (the last question) needs free text, so the conversation goes to the
``survey.comment`` state for it and then back to whatever flow the citizen was in.
"""

from __future__ import annotations

import re

from bot.errors import UserFacingError
from bot.messages import Incoming, Kind
from bot.router import IDLE, Context, Router
from bot.surveys.service import PREFIX, SKIP, STOP, Answered, SurveyService
from kb.normalize import fold
from storage.repos.surveys import OPEN, SurveyRepo

router = Router("surveys")

COMMENT_STATE = "survey.comment"
OPT_OUT_WORDS = {"khong nhan khao sat", "dung khao sat", "khong khao sat", "huy khao sat",
                 "tu choi khao sat"}
STOP_BY_NUMBER = ("Nếu bạn muốn ngừng nhận khảo sát, vui lòng bấm nút “Không nhận khảo sát” hoặc gõ "
                  "“không nhận khảo sát”. Nếu không, mời bạn chọn câu trả lời dưới đây.")
NOT_THIS_QUESTION = "Câu trả lời chưa khớp với câu hỏi khảo sát. Vui lòng chọn một trong các câu trả lời dưới đây."
_ANSWER = re.compile(rf"^{re.escape(PREFIX)}(\d{{1,12}}):(\d{{1,3}}):(-?\d{{1,2}}|{SKIP})$")
_STOP = re.compile(rf"^{re.escape(PREFIX)}(\d{{1,12}}):{STOP}$")


def _service(ctx: Context) -> SurveyService:
    return ctx.services.extras["surveys"]


def _is_opt_out(text: str) -> bool:
    return fold(text).strip(" .!") in OPT_OUT_WORDS


async def _opt_out(ctx: Context) -> None:
    text = await _service(ctx).opt_out(ctx.uow, citizen_id=ctx.citizen_id, channel=ctx.key.channel,
                                       now=ctx.now)
    if ctx.state == COMMENT_STATE:
        _resume(ctx)
    ctx.reply(text)


def _resume(ctx: Context) -> None:
    """Back to the flow the citizen was in before the comment question."""
    state, data = ctx.data.get("resume") or [IDLE, {}]
    if state and state in ctx.router.states and state != COMMENT_STATE:
        ctx.goto(state, data)
    else:
        ctx.end()


def _show(ctx: Context, survey_id: int, result: Answered) -> None:
    for reply in result.replies:
        ctx.reply(reply.text, reply.choices)
    asks_comment = result.next_question is not None and result.next_question.kind == "comment"
    if asks_comment:
        if ctx.state != COMMENT_STATE:
            ctx.goto(COMMENT_STATE, {"survey_id": survey_id, "resume": [ctx.state, ctx.data]})
    elif ctx.state == COMMENT_STATE:
        _resume(ctx)


async def _answer(ctx: Context, survey_id: int, number: int, value: str) -> None:
    result = await _service(ctx).answer(ctx.uow, citizen_id=ctx.citizen_id, survey_id=survey_id,
                                        number=number, value=value, now=ctx.now)
    _show(ctx, survey_id, result)


@router.action(PREFIX)
async def on_button(ctx: Context, msg: Incoming) -> None:
    m = _ANSWER.match(msg.choice)
    if m:
        await _answer(ctx, int(m.group(1)), int(m.group(2)), m.group(3))
        return
    m = _STOP.match(msg.choice)
    if m:
        if msg.text.strip().rstrip(".)").isdigit():
            # "4" typed under three answers picks the opt-out listed after them: a mistyped
            # score must not end every future survey; the words or the button still do
            await _ask_again(ctx, int(m.group(1)), STOP_BY_NUMBER)
            return
        await _opt_out(ctx)
        return
    raise UserFacingError("Lựa chọn không hợp lệ, mời bạn chọn một nút trong danh sách.")


async def _ask_again(ctx: Context, survey_id: int, why: str) -> None:
    """The question this citizen's survey waits on, again, after ``why``."""
    service = _service(ctx)
    survey = await ctx.uow.repo(SurveyRepo).get(survey_id)
    question = await service.expected_question(ctx.uow, survey) if survey is not None \
        and survey.citizen_id == ctx.citizen_id and survey.status in OPEN else None
    if question is None:
        ctx.show_menu()
        return
    asked = service.ask(survey.id, survey.case_type, survey.next_question, await service.questionnaire_of(ctx.uow, survey))
    ctx.reply(why)
    ctx.reply(asked.text, asked.choices)


@router.state(COMMENT_STATE)
async def on_comment(ctx: Context, msg: Incoming) -> None:
    survey_id = int(ctx.data.get("survey_id", 0))
    if msg.kind is not Kind.TEXT or not msg.text.strip():
        ctx.reply("Mời bạn gõ góp ý bằng chữ, hoặc bấm \"Bỏ qua\".")
        return
    if _is_opt_out(msg.text):
        await _opt_out(ctx)
        return
    survey = await ctx.uow.repo(SurveyRepo).get(survey_id)
    if survey is None:
        _resume(ctx)
        ctx.show_menu()
        return
    await _answer(ctx, survey_id, survey.next_question, msg.text)


@router.fallback(order=5)
async def typed_answer(ctx: Context, msg: Incoming) -> bool:
    """Outside flows: "không nhận khảo sát", or a typed answer ("4", "hài lòng") to the
    question a survey sent by the outbox is waiting on."""
    if _is_opt_out(msg.text):
        await _opt_out(ctx)
        return True
    service = _service(ctx)
    typed = fold(msg.text).strip(" .)")
    if not typed.isdigit() and typed not in await service.answer_labels(ctx.uow):
        return False  # answers no question of any survey: no query for most free text
    survey = await ctx.uow.repo(SurveyRepo).awaiting_answer(ctx.citizen_id, ctx.now)
    if survey is None:
        return False
    question = await service.expected_question(ctx.uow, survey)
    if question is None or question.kind == "comment":
        return False
    q = await service.questionnaire_of(ctx.uow, survey)
    asked = service.ask(survey.id, survey.case_type, survey.next_question, q)
    choices = asked.choices
    if typed.isdigit() and 1 <= int(typed) <= len(choices):
        payload = choices[int(typed) - 1].payload
    else:
        payload = next((c.payload for c in choices if fold(c.label) == typed), "")
    if not payload:
        # a number beyond this question's answers, or the answer of another question
        # ("hài lòng" where the question counts contacts): this question again, not a
        # procedure search for "hài lòng"
        ctx.reply(NOT_THIS_QUESTION)
        ctx.reply(asked.text, asked.choices)
        return True
    await on_button(ctx, Incoming(key=msg.key, kind=Kind.CHOICE, text=msg.text, choice=payload,
                                  update_id=msg.update_id))
    return True
