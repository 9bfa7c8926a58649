"""Platform-neutral messages: field types checked at construction, button labels."""

from __future__ import annotations

import pytest

from bot.messages import Attachment, Contact, ConversationKey, Incoming, Kind, Location, MalformedMessage, \
    choice_label, clip

KEY = ConversationKey("web", "s1", "s1")


def test_short_names_are_kept_whole():
    assert choice_label("  Thủ tục   đăng ký khai sinh ") == "Thủ tục đăng ký khai sinh"
    assert choice_label("Cấp giấy phép xây dựng sửa chữa, cải tạo và nhà ở riêng lẻ:") == \
        "Cấp giấy phép xây dựng sửa chữa, cải tạo và nhà ở riêng lẻ"


def test_long_names_keep_their_start_and_their_end():
    a = "Cấp chứng nhận đăng ký xe, biển số xe trong trường hợp thay đổi chủ xe (sang tên) tại Công an cấp xã"
    b = "Cấp chứng nhận đăng ký xe, biển số xe trong trường hợp thay đổi chủ xe (sang tên) tại Công an cấp tỉnh"
    la, lb = choice_label(a), choice_label(b)
    assert len(la) <= 80 and len(lb) <= 80 and la != lb
    assert la.startswith("Cấp chứng nhận đăng ký xe") and la.endswith("Công an cấp xã") and " … " in la


def test_a_name_without_spaces_is_clipped():
    assert choice_label("x" * 200) == "x" * 79 + "…"
    assert clip("a  b\nc", 5) == "a b c" and clip("abcdef", 4) == "abc…"


@pytest.mark.parametrize("build", [
    lambda: Incoming(KEY, Kind.CHOICE, choice=["m:kb"]),
    lambda: Incoming(KEY, Kind.TEXT, text={"a": 1}),
    lambda: Incoming(KEY, Kind.TEXT, text="x", display_name=5),
    lambda: Attachment("image", ["id"]),
    lambda: Attachment("file", "id", size="12"),
    lambda: Location("10.7", 106.6),
    lambda: Location(True, 106.6),
    lambda: Contact(84912345678),
])
def test_wrong_field_types_are_refused_when_built(build):
    with pytest.raises(MalformedMessage):
        build()
    assert issubclass(MalformedMessage, TypeError)  # what every adapter's parser catches


def test_well_typed_messages_are_built():
    assert Incoming(KEY, Kind.ATTACHMENT, attachments=(Attachment("image", "f1", size=None),)).attachments
    assert Location(10, 106.6).latitude == 10
