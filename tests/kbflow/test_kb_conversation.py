"""The lookup conversation end to end through the router (bundled knowledge base)."""

from __future__ import annotations

import pytest

from bot.messages import as_texts
from tests.conftest import payloads_of, texts_of


async def test_menu_lookup_choose_card_and_sections(chat):
    menu = await chat.say("menu")
    assert payloads_of(menu)[0] == "m:kb"
    prompt = await chat.press("m:kb")
    assert "Bạn muốn tìm thủ tục gì" in texts_of(prompt)
    found = await chat.say("dang ky khai sinh")
    if "Mã thủ tục: 1.001193" not in texts_of(found):  # unsure: choose it from the list
        assert "kb:open:1.001193" in payloads_of(found)
        found = await chat.press("kb:open:1.001193")
    card = texts_of(found)
    assert "Mã thủ tục: 1.001193" in card and "Hộ tịch" in card and "Trực tiếp" in card
    assert {"kb:docs:1.001193", "kb:steps:1.001193", "kb:law:1.001193", "kb:forms:1.001193",
            "kb:ask:1.001193"} <= set(payloads_of(found))
    docs = await chat.press("kb:docs:1.001193")
    assert "Tờ khai đăng ký khai sinh" in texts_of(docs)
    law = await chat.press("kb:law:1.001193")
    assert "Luật Hộ tịch" in texts_of(law)
    steps = await chat.press("kb:steps:1.001193")
    # the header "Trình tự thực hiện" is always there: the steps themselves must be too
    assert "Trình tự thực hiện" in texts_of(steps) and "Bước 1" in texts_of(steps)
    assert "Chưa có thông tin" not in texts_of(steps)


@pytest.mark.parametrize("query", ["cấp lại căn cước", "cap lai can cuoc", "cap lai cccd"])
async def test_free_text_with_and_without_accents_and_abbreviations(chat, query):
    replies = await chat.say(query)
    assert "kb:open:1.014064" in payloads_of(replies) or "Mã thủ tục: 1.014064" in texts_of(replies)


async def test_code_lookup_opens_the_card(chat):
    replies = await chat.say("1.001193")
    assert "Mã thủ tục: 1.001193" in texts_of(replies)


async def test_channels_with_the_same_time_and_fee_share_a_line(chat):
    # birth registration: the same day and fee in person, online and by post
    card = texts_of(await chat.say("1.001193"))
    assert "• Trực tiếp, Trực tuyến, Dịch vụ bưu chính: 01 ngày làm việc" in card
    assert card.count("01 ngày làm việc") == 1


async def test_unknown_code_is_said_plainly(chat):
    await chat.press("m:kb")
    replies = await chat.say("9.999999")
    assert "Không tìm thấy thủ tục có mã 9.999999" in texts_of(replies)


async def test_nothing_found_offers_staff_and_retry(chat):
    replies = await chat.say("xyzzy qwrtp")
    assert "chưa tìm thấy" in texts_of(replies)
    assert {"m:kb", "kb:ask:"} <= set(payloads_of(replies))


async def test_ask_staff_without_a_staff_queue_gives_the_hotline(chat, app):
    app.services.ask_staff = None  # a deployment without the PAKN staff queue
    replies = await chat.press("kb:ask:1.001193")
    assert app.config.contact.hotline in texts_of(replies)


async def test_forged_card_payload_is_refused_politely(chat):
    replies = await chat.press("kb:open:../../etc")
    assert "Không tìm thấy thủ tục này" in texts_of(replies)


async def test_typed_number_matches_the_numbered_list_of_the_whole_turn(chat):
    await chat.press("m:kb")
    replies = await chat.say("giấy chứng nhận quyền sử dụng đất")
    payloads = payloads_of(replies)
    texts = as_texts(replies)
    numbered = "\n".join(texts)
    last = len(payloads)
    assert f"{last}. " in numbered  # numbering runs on across the replies
    pick = await chat.say(str(1))
    if payloads[0].startswith("kb:open:"):
        assert f"Mã thủ tục: {payloads[0].split(':')[2]}" in texts_of(pick)


async def test_greeting_and_thanks(chat, app):
    hello = await chat.say("xin chào")
    assert "m:kb" in payloads_of(hello) and app.config.province.name in texts_of(hello)
    assert "Rất vui" in texts_of(await chat.say("cảm ơn"))


@pytest.mark.parametrize("typed", ["thank", "camon", "tks", "Thanks bạn", "👍", "🙏🙏"])
async def test_thanks_as_citizens_type_it_is_not_searched(chat, typed):
    """"thank" listed five unrelated procedures; "camon", "tks", "👍" said no procedure matched."""
    answer = texts_of(await chat.say(typed))
    assert answer.startswith("Rất vui") and "thủ tục" not in answer, typed
    await chat.say("sổ đỏ")  # under a choice list too
    assert texts_of(await chat.say(typed)).startswith("Rất vui"), typed


@pytest.mark.parametrize("typed", ["123456", "0912 345 678", "001088012345"])
async def test_digits_alone_are_not_searched_nor_said_back(chat, app, typed):
    """A phone or ID number typed alone got "chưa tìm thấy thủ tục" and ten fields to browse."""
    for _ in range(2):  # outside a flow, and again under that answer
        replies = await chat.say(typed)
        text = texts_of(replies)
        assert "dãy số" in text and app.config.dossiers.code_example in text and "m:kb" in payloads_of(replies)
        assert typed not in text and "kb:fld:" not in " ".join(payloads_of(replies))
    await chat.press("m:kb")  # at the lookup's prompt too
    assert "dãy số" in texts_of(await chat.say(typed))
    assert "Mã thủ tục: 1.001193" in texts_of(await chat.say("1.001193"))  # a procedure's code still opens it


@pytest.mark.parametrize("typed", ["hài lòng", "Rất hài lòng!", "tuyệt vời"])
async def test_praise_outside_a_survey_is_thanked_not_searched(chat, typed):
    assert texts_of(await chat.say(typed)).startswith("Rất vui"), typed


@pytest.mark.parametrize("typed", ["Cán bộ rất nhiệt tình, cảm ơn!", "đã nhận được kết quả rồi, xin cảm ơn"])
async def test_a_remark_ending_in_thanks_is_thanked(chat, typed):
    assert texts_of(await chat.say(typed)).startswith("Rất vui"), typed


@pytest.mark.parametrize("typed", ["đăng ký khai sinh lệ phí bao nhiêu, cảm ơn", "làm hộ chiếu ở đâu cảm ơn",
                                   "cho hỏi thủ tục tách thửa, cảm ơn"])
async def test_a_question_ending_in_thanks_is_still_searched(chat, typed):
    assert not texts_of(await chat.say(typed)).startswith("Rất vui"), typed


@pytest.mark.parametrize("typed", ["tôi không hiểu", "không hiểu", "em chưa hiểu ạ"])
async def test_not_understanding_gets_the_help_text(chat, typed):
    from handlers.menu import HELP

    assert HELP in texts_of(await chat.say(typed)), typed


@pytest.mark.parametrize("typed", ["Đồng ý xóa", "đồng ý", "xác nhận"])
async def test_a_confirmation_with_nothing_to_confirm_is_not_searched(chat, typed):
    """"Đồng ý xóa" typed after the erasure was done listed *Xóa đăng ký tạm trú* and others."""
    answer = await chat.say(typed)
    assert "không có việc nào đang chờ bạn xác nhận" in texts_of(answer) and "m:kb" in payloads_of(answer)
    assert "Xóa đăng ký" not in texts_of(answer), typed


async def test_a_repeated_greeting_is_a_greeting(chat, app):
    assert app.config.province.name in texts_of(await chat.say("alo alo"))  # was "chưa hiểu yêu cầu"


@pytest.mark.parametrize("typed", ["thôi", "bỏ qua", "không cần nữa", "ok", "vâng", "Dạ"])
async def test_never_mind_and_ok_typed_alone_are_not_searched(chat, typed):
    """'thôi' alone once opened *Tạm ngừng kinh doanh …* with confidence (folded it is 'thời')."""
    answer = await chat.say(typed)
    assert texts_of(answer).startswith("Vâng ạ") and "Mã thủ tục" not in texts_of(answer), typed
    await chat.say("sổ đỏ")  # under a choice list too
    assert texts_of(await chat.say(typed)).startswith("Vâng ạ"), typed


@pytest.mark.parametrize("typed", ["tôi tên là Lan", "mình tên Hùng", "Xin chào, tôi tên là Trần Thị Bình",
                                   "tên em là Nguyễn Văn An"])
async def test_an_introduction_is_greeted_not_searched(chat, typed):
    answer = await chat.say(typed)
    assert "Rất vui được làm quen" in texts_of(answer) and "m:kb" in payloads_of(answer), typed
    assert "Mã thủ tục" not in texts_of(answer)


@pytest.mark.parametrize("typed", ["tôi tên An cần đổi tên", "thôi quốc tịch", "mình tên Lan muốn đăng ký kết hôn"])
async def test_a_question_that_starts_like_small_talk_is_still_searched(chat, typed):
    answer = await chat.say(typed)
    assert "Rất vui được làm quen" not in texts_of(answer) and not texts_of(answer).startswith("Vâng ạ"), typed


async def test_sections_keep_their_numbers_and_names_under_every_section(chat):
    card = await chat.say("1.001193")
    assert "Mã thủ tục: 1.001193" in texts_of(card)
    docs = await chat.say("1")  # 1 = "Hồ sơ cần chuẩn bị" under the card
    assert "Hồ sơ cần chuẩn bị — " in texts_of(docs)
    again = await chat.say("Hồ sơ cần chuẩn bị")  # the section on screen, typed by name
    assert "Hồ sơ cần chuẩn bị — " in texts_of(again)
    steps = await chat.say("2")  # 2 = "Trình tự" under a section too
    assert "Trình tự thực hiện — " in texts_of(steps)
    back = await chat.say("xem lai thu tuc")
    assert "Mã thủ tục: 1.001193" in texts_of(back)


async def test_nothing_found_offers_fields_to_browse_page_by_page(chat, app):
    replies = await chat.say("xyzzy qwrtp")
    assert "chưa tìm thấy" in texts_of(replies)
    fields = [p for p in payloads_of(replies) if p.startswith("kb:fld:")]
    assert fields and fields[0] == "kb:fld:0:0"
    labels = [c.label for r in replies for c in r.choices]
    assert any(label.startswith("Hộ tịch (") for label in labels)  # first configured field, with its count
    page1 = await chat.press("kb:fld:0:0")
    size = app.config.kb.browse_page_size
    opened = [p for p in payloads_of(page1) if p.startswith("kb:open:")]
    assert len(opened) == size and "Lĩnh vực Hộ tịch" in texts_of(page1) and "trang 1/" in texts_of(page1)
    assert "kb:fld:0:1" in payloads_of(page1)
    page2 = await chat.say("xem tiep")  # typed label of "Xem tiếp"
    assert "trang 2/" in texts_of(page2)
    assert not set(opened) & {p for p in payloads_of(page2) if p.startswith("kb:open:")}
    card = await chat.press(opened[0])
    assert "Lĩnh vực: Hộ tịch" in texts_of(card)


async def test_a_field_page_goes_back_a_page(chat):
    """From page 2 the only ways were forward or the list of fields (page 1 again meant
    choosing the field again)."""
    page1 = await chat.press("kb:fld:0:0")
    assert "Trang trước" not in [c.label for r in page1 for c in r.choices]
    await chat.press("kb:fld:0:1")
    back = await chat.say("trang truoc")  # typed, without accents
    assert "trang 1/" in texts_of(back) and payloads_of(back) == payloads_of(page1)


async def test_browsing_from_the_lookup_prompt_and_searching_from_a_field_page(chat):
    prompt = await chat.press("m:kb")
    assert "kb:fields" in payloads_of(prompt)
    fields = await chat.say("xem theo linh vuc")
    assert "kb:fld:0:0" in payloads_of(fields)
    await chat.press("kb:fld:1:0")
    found = await chat.say("dang ky thuong tru")  # a question typed on a field page is searched
    assert "kb:open:1.004222" in payloads_of(found) or "Mã thủ tục: 1.004222" in texts_of(found)


async def test_stale_field_button_is_answered_politely(chat):
    replies = await chat.press("kb:fld:99:0")
    assert "chọn lại" in texts_of(replies) and "kb:fields" in payloads_of(replies)


def test_choices_that_would_read_the_same_say_their_level_or_code():
    from handlers.kb import _open_choices
    from kb.model import Procedure

    name = "Giao đất, cho thuê đất, chuyển mục đích sử dụng đất"
    procs = [Procedure(code="1.013949", name=name, level="Cấp xã"),
             Procedure(code="1.013823", name=name, level="Cấp tỉnh"),
             Procedure(code="1.000001", name="Đăng ký đất đai", level="Cấp xã"),
             Procedure(code="1.000002", name="Đăng ký đất đai", level="Cấp xã")]
    labels = [c.label for c in _open_choices(procs)]
    assert labels == [f"{name} (Cấp xã)", f"{name} (Cấp tỉnh)",
                      "Đăng ký đất đai (1.000001)", "Đăng ký đất đai (1.000002)"]
    assert [c.payload for c in _open_choices(procs[:1])] == ["kb:open:1.013949"]
    assert [c.label for c in _open_choices(procs[:1])] == [name]


@pytest.mark.parametrize("typed, expect", [
    ("tôi muốn hỏi cán bộ", "Vui lòng nhập câu hỏi của bạn"),
    ("tư vấn viên", "Vui lòng nhập câu hỏi của bạn"),  # was a list of procedures
    ("có ai không", "Vui lòng nhập câu hỏi của bạn"),
    ("gọi lại cho tôi", "Vui lòng nhập câu hỏi của bạn"),  # was a list of procedures
    ("nhờ cán bộ liên hệ lại với em", "Vui lòng nhập câu hỏi của bạn"),
    ("giờ làm việc", "Giờ làm việc:"),  # was a list of procedures
    ("mấy giờ mở cửa", "Giờ làm việc:"),
    ("cho xin số đường dây nóng", "1022"),
    ("1022", "Tổng đài dịch vụ công"),  # the hotline's number typed alone
    ("10 22", "Tổng đài dịch vụ công"),
    ("hướng dẫn sử dụng", "Hướng dẫn sử dụng:"),
    ("hồ sơ của tôi đến đâu rồi", "Vui lòng nhập mã hồ sơ"),
    ("tra cứu phản ánh", "Vui lòng nhập mã phản ánh"),
])
async def test_a_menu_entry_asked_for_in_words_opens_it(chat, typed, expect):
    replies = await chat.say(typed)
    assert expect in texts_of(replies)
    assert "Mã thủ tục:" not in texts_of(replies) and "kb:open:" not in " ".join(payloads_of(replies))


async def test_a_question_for_staff_is_kept_to_send_as_typed(chat):
    replies = await chat.say("cho tôi hỏi cán bộ về lệ phí đăng ký khai sinh cho con")
    assert "pf:ask:prev" in payloads_of(replies) and "lệ phí đăng ký khai sinh" in texts_of(replies)


async def test_asking_for_staff_in_many_words_is_not_offered_as_the_question(chat):
    """"cho em xin gặp người hỗ trợ ạ" was offered to staff as the question to answer."""
    replies = await chat.say("cho em xin gặp người hỗ trợ ạ")
    assert "Vui lòng nhập câu hỏi" in texts_of(replies) and "pf:ask:prev" not in payloads_of(replies)


@pytest.mark.parametrize("typed", ["hướng dẫn làm sổ đỏ", "yêu cầu trợ giúp pháp lý miễn phí",
                                   "hồ sơ đăng ký khai sinh gồm những gì", "tra cứu thủ tục 1.001193"])
async def test_procedure_questions_with_menu_words_still_search(chat, typed):
    replies = await chat.say(typed)
    assert "Hướng dẫn sử dụng:" not in texts_of(replies) and "Vui lòng nhập mã" not in texts_of(replies)
    assert "thủ tục" in texts_of(replies)  # a search answer (found or not), not a menu entry


async def test_a_dossier_code_typed_with_menu_words_is_looked_up_not_asked_again(chat):
    replies = await chat.say("tra cứu hồ sơ 000.00.01.H50-250101-0001")
    assert "Vui lòng nhập mã hồ sơ" not in texts_of(replies)


async def test_a_card_shows_only_links_that_are_web_addresses(chat, app, tmp_path):
    """Imported data may hold 'javascript:…' or a bare 'dichvucong.gov.vn/…': such a link
    would be a live <a href> in the web chat (or a link to our own site); the card leaves it
    out and keeps the good one."""
    from kb.service import import_paths

    f = tmp_path / "links.yaml"
    f.write_text("- code: 1.999901\n  name: Thủ tục thử liên kết một\n"
                 "  online_url: 'javascript:alert(document.cookie)'\n"
                 "  source_url: ' https://dichvucong.gov.vn/p/1000894 '\n"
                 "- code: 1.999902\n  name: Thủ tục thử liên kết hai\n"
                 "  source_url: dichvucong.gov.vn/thu-tuc/1000656\n", encoding="utf-8")
    await import_paths(app.db, [f], app.services.clock.now())
    await app.services.kb.refresh(force=True)
    card = await chat.press("kb:open:1.999901")
    assert [(link.label, link.url) for r in card for link in r.links] == [
        ("Xem trên Cổng Dịch vụ công", "https://dichvucong.gov.vn/p/1000894")]
    for payload in ("kb:open:1.999902", "kb:forms:1.999902"):
        assert [link for r in await chat.press(payload) for link in r.links] == []


async def test_a_number_beyond_the_list_is_not_searched_and_the_list_stays(chat):
    """"15" under ten choices was searched as a question ("trợ cấp một lần …")."""
    await chat.press("m:kb")
    listed = await chat.say("giấy chứng nhận quyền sử dụng đất")
    offered = payloads_of(listed)
    assert len(offered) < 15
    again = await chat.say("15")
    assert "Không có lựa chọn số 15" in texts_of(again) and payloads_of(again) == offered
    picked = await chat.say("1")  # the list still answers its numbers
    if offered[0].startswith("kb:open:"):
        assert f"Mã thủ tục: {offered[0].split(':')[2]}" in texts_of(picked)


async def test_a_number_at_the_lookup_prompt_is_not_searched(chat):
    await chat.press("m:kb")
    replies = await chat.say("3")
    assert "Không có lựa chọn số 3" in texts_of(replies) and "kb:fields" in payloads_of(replies)


async def test_text_under_the_choices_that_is_no_procedure_question_is_answered_as_outside(chat):
    """A greeting, a complaint or thanks typed at the lookup's prompt or under its list is
    not searched among procedures ("xin chào" found nothing; "khiếu nại" found BHXH)."""
    await chat.say("làm giấy khai tử cho ba")  # a list of choices is on screen
    greeting = texts_of(await chat.say("xin chào"))
    assert "Xin chào" in greeting and "chưa tìm thấy" not in greeting
    await chat.press("m:kb")  # the lookup's prompt
    complaint = await chat.say("tôi muốn khiếu nại")
    assert "Có vẻ bạn muốn phản ánh, kiến nghị" in texts_of(complaint)
    assert "pf:intent:form" in payloads_of(complaint)
    await chat.say("đổi giấy phép lái xe")
    thanks = texts_of(await chat.say("cảm ơn"))
    assert "Rất vui được hỗ trợ bạn" in thanks
    # a procedure question under the list is still a new search
    await chat.say("làm giấy khai tử cho ba")
    again = await chat.say("đăng ký kết hôn")
    assert "kết hôn" in texts_of(again).lower() and "Có vẻ bạn muốn" not in texts_of(again)


@pytest.mark.parametrize("question, expected", [
    ("phí bao nhiêu", "Thời hạn giải quyết và phí, lệ phí — Đổi giấy phép lái xe"),
    ("mất mấy ngày", "Thời hạn giải quyết và phí, lệ phí — Đổi giấy phép lái xe"),
    ("nop o dau", "Nơi nộp hồ sơ — Đổi giấy phép lái xe"),
    ("có nộp online được không", "Thủ tục \"Đổi giấy phép lái xe\" nộp được trực tuyến"),
    ("cần giấy tờ gì", "Hồ sơ cần chuẩn bị — Đổi giấy phép lái xe"),
    ("có mẫu đơn không", "Biểu mẫu — Đổi giấy phép lái xe"),
    ("đổi bằng lái làm như thế nào", "Trình tự thực hiện — Đổi giấy phép lái xe"),
    ("căn cứ pháp lý là gì", "Căn cứ pháp lý — Đổi giấy phép lái xe"),
])
async def test_a_follow_up_under_a_card_is_about_the_procedure_on_screen(chat, question, expected):
    card = await chat.say("3.000347")  # Đổi giấy phép lái xe
    assert "Mã thủ tục: 3.000347" in texts_of(card)
    answer = await chat.say(question)
    assert expected in texts_of(answer)
    assert "kb:docs:3.000347" in payloads_of(answer)  # still on screen: the next follow-up works too
    again = await chat.say("phí bao nhiêu")
    assert "phí, lệ phí — Đổi giấy phép lái xe" in texts_of(again)


async def test_a_question_naming_something_else_under_a_card_is_a_new_search(chat):
    await chat.say("3.000347")  # Đổi giấy phép lái xe
    lost = await chat.say("mất giấy phép thì làm sao")  # another procedure: a new copy
    assert "Trình tự thực hiện — Đổi" not in texts_of(lost)
    assert "3.000348" in texts_of(lost) or "kb:open:3.000348" in payloads_of(lost)  # Cấp lại
    await chat.say("3.000347")
    other = await chat.say("phí đăng ký khai sinh bao nhiêu")
    assert "— Đổi giấy phép lái xe" not in texts_of(other)
    # with nothing on screen (a menu, not a card) a bare follow-up is not answered from memory
    await chat.say("3.000347")
    await chat.say("menu")
    bare = await chat.say("phí bao nhiêu")
    assert "Đổi giấy phép lái xe" not in texts_of(bare)


async def test_an_unsure_question_under_a_card_is_read_in_its_field_first(chat):
    await chat.say("3.000347")  # Đổi giấy phép lái xe
    sibling = await chat.say("thế còn cấp lại thì sao")  # unsure overall: Cấp lại … of any paper
    assert [p for p in payloads_of(sibling) if p.startswith("kb:open:")][0] == "kb:open:3.000348"
    await chat.say("3.000347")
    sure = await chat.say("cấp lại")  # sure within the field: the card itself
    assert "Mã thủ tục: 3.000348" in texts_of(sure)
    # without the card on screen the same words are not read as driving licences
    await chat.say("menu")
    plain = await chat.say("cấp lại")
    assert "Mã thủ tục: 3.000348" not in texts_of(plain)
    # a question that is sure on its own is not pulled into the field
    await chat.say("3.000347")
    assert "Mã thủ tục: 1.000894" in texts_of(await chat.say("đăng ký kết hôn"))


async def test_a_follow_up_under_a_choice_list_asks_which_procedure(chat):
    listed = await chat.say("sổ đỏ")  # unsure: a list of land procedures
    shown = [p for p in payloads_of(listed) if p.startswith("kb:open:")]
    assert len(shown) >= 2 and "Mã thủ tục" not in texts_of(listed)
    for question, aspect in (("nộp ở xã được không", "nơi nộp hồ sơ"), ("lệ phí bao nhiêu", "thời hạn và lệ phí"),
                             ("cần mang theo giấy tờ gì", "hồ sơ cần chuẩn bị")):
        answer = await chat.say(question)
        assert f"chọn thủ tục trong danh sách để xem {aspect}" in texts_of(answer), question
        assert [p for p in payloads_of(answer) if p.startswith("kb:open:")] == shown  # the same list
    card = await chat.say("1")  # picked from the list offered again
    assert f"Mã thủ tục: {shown[0][len('kb:open:'):]}" in texts_of(card)
    # a question naming another procedure is a new search, not a request to pick
    await chat.say("sổ đỏ")
    other = await chat.say("đăng ký khai sinh lệ phí bao nhiêu")
    assert "chọn thủ tục trong danh sách" not in texts_of(other)
    assert "khai sinh" in texts_of(other).lower() or any("1.001193" in p for p in payloads_of(other))


@pytest.mark.parametrize("typed, expected", [
    ("1.001193 cần giấy tờ gì", "Hồ sơ cần chuẩn bị — Thủ tục đăng ký khai sinh"),
    ("1.001193 lệ phí bao nhiêu", "Thời hạn giải quyết và phí, lệ phí — Thủ tục đăng ký khai sinh"),
    ("mã 1.001193 nộp ở đâu", "Nơi nộp hồ sơ — Thủ tục đăng ký khai sinh"),
])
async def test_a_code_with_a_question_answers_the_question(chat, typed, expected):
    answer = await chat.say(typed)
    assert expected in texts_of(answer) and "kb:open:1.001193" in payloads_of(answer), typed
    # a code alone, or with the procedure's own name, still opens the card
    assert "Mã thủ tục: 1.001193" in texts_of(await chat.say("1.001193 đăng ký khai sinh"))


async def test_an_unknown_code_typed_outside_the_lookup_is_named(chat):
    answer = await chat.say("1.999999")
    assert "Không tìm thấy thủ tục có mã 1.999999" in texts_of(answer)
