"""Scoped sibling variants (kb.scopes) and accent-aware typo correction in kb.search."""

import dataclasses

from hypothesis import given, settings, strategies as st
from rapidfuzz.distance import Levenshtein

from kb.model import Procedure
from kb.normalize import fold
from kb.scopes import name_scope, query_scope
from kb.search import SearchIndex


def P(code, name, level="Cấp xã", field="Đất đai", **kw):
    return Procedure(code=code, name=name, level=level, field=field, **kw)


# action phrases as they open procedure names; the citizen's question repeats the action
ACTIONS = [
    "Đăng ký đất đai lần đầu",
    "Chuyển mục đích sử dụng rừng sang mục đích khác",
    "Đăng ký thuế lần đầu",
    "Cấp giấy chứng nhận quyền sử dụng đất lần đầu",
    "Phê duyệt phương án quản lý rừng bền vững",
]
DISTRACTORS = [
    P("9.000001", "Cấp lại giấy chứng nhận quyền sử dụng đất do bị mất"),
    P("9.000002", "Đăng ký biến động đất đai"),
    P("9.000003", "Thủ tục đăng ký khai sinh", field="Hộ tịch"),
]


def _index(*procs):
    return SearchIndex.build(list(procs) + DISTRACTORS)


def test_name_and_query_scopes():
    assert name_scope(fold("Đăng ký đất đai lần đầu đối với tổ chức đang sử dụng đất")).org
    assert not name_scope(fold("… đối với tổ chức, cá nhân trả thu nhập")).org  # both named
    assert name_scope(fold("Thủ tục đăng ký kết hôn có yếu tố nước ngoài")).foreign
    assert not name_scope(fold("… đối với hộ gia đình, cá nhân, người gốc Việt Nam định cư ở nước ngoài")).foreign
    assert name_scope(fold("Cấp thẻ căn cước cho người dưới 14 tuổi")).age == (0, 13)
    assert name_scope(fold("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên")).age == (14, 200)
    assert name_scope(fold("Chuyển mục đích sử dụng đất không phải xin phép cơ quan nhà nước")).no_permit
    assert query_scope(fold("công ty tôi muốn đăng ký")).org
    assert query_scope(fold("lấy chồng Hàn Quốc")).foreign and query_scope(fold("vợ người Mỹ")).foreign
    # single-syllable countries only after a person: "cập nhật", "lao động", "tư pháp" are not
    for q in ("cập nhật thông tin", "người lao động", "lý lịch tư pháp", "nhà tôi ở xã"):
        assert not query_scope(fold(q)).foreign, q
    assert query_scope(fold("con 15 tuổi")).age == 15
    assert query_scope(fold("bé dưới 14 tuổi")).age == 13
    assert query_scope(fold("chuyển đất không cần xin phép")).no_permit
    assert not query_scope(fold("chuyển đất có phải xin phép không")).no_permit


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(ACTIONS),
       st.sampled_from(["{}", "cho mình hỏi {} cho gia đình", "{} cho đất nhà tôi", "{} như thế nào"]),
       st.sampled_from(["công ty {}", "doanh nghiệp muốn {}", "{} cho tổ chức", "cơ quan {}"]))
def test_property_organisation_variant_only_when_asked(action, citizen, org):
    """Near-identical names for organisations and individuals: a question that names no
    organisation gets the individual variant, one that does gets the organisation's - whichever
    name is shorter."""
    idx = _index(P("1.000001", f"{action} đối với tổ chức"),
                 P("1.000002", f"{action} đối với hộ gia đình, cá nhân, cộng đồng dân cư"))
    q1 = citizen.format(action.lower())
    assert idx.search(q1).hits[0].code == "1.000002", q1
    q2 = org.format(action.lower())
    assert idx.search(q2).hits[0].code == "1.000001", q2


HOTICH = ["đăng ký khai sinh", "đăng ký kết hôn", "đăng ký khai tử", "đăng ký giám hộ", "đăng ký nhận cha, mẹ, con"]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(HOTICH),
       st.sampled_from(["{}", "{} ở xã", "cho em hỏi {} cần gì ạ"]),
       st.sampled_from(["{} với người nước ngoài", "{}, chồng là người Hàn Quốc", "Việt kiều {}",
                        "{} cho người có quốc tịch nước ngoài", "{} với vợ quốc tịch Trung Quốc"]))
def test_property_foreign_variant_only_when_asked(action, plain, foreign):
    idx = SearchIndex.build([
        P("2.000001", f"Thủ tục {action}", field="Hộ tịch"),
        P("2.000002", f"Thủ tục {action} có yếu tố nước ngoài", field="Hộ tịch"),
        P("2.000003", "Cấp bản sao trích lục hộ tịch", field="Hộ tịch"),
    ])
    q1 = plain.format(action)
    assert idx.search(q1).hits[0].code == "2.000001", q1
    q2 = foreign.format(action)
    assert idx.search(q2).hits[0].code == "2.000002", q2


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=90), st.sampled_from([14, 16, 18]),
       st.sampled_from(["làm căn cước cho con {} tuổi", "con {} tuổi làm thẻ căn cước", "cấp căn cước cho người {} tuổi"]))
def test_property_age_variant_follows_the_age(age, bound, template):
    idx = SearchIndex.build([
        P("3.000001", f"Cấp thẻ căn cước cho người dưới {bound} tuổi", field="Căn cước"),
        P("3.000002", f"Cấp thẻ căn cước cho người từ đủ {bound} tuổi trở lên", field="Căn cước"),
        P("3.000003", "Cấp đổi thẻ căn cước", field="Căn cước"),
    ])
    want = "3.000001" if age < bound else "3.000002"
    q = template.format(age)
    assert idx.search(q).hits[0].code == want, q


def test_no_permit_variant_only_when_asked():
    idx = SearchIndex.build([
        P("4.000001", "Đăng ký biến động chuyển mục đích sử dụng đất không phải xin phép cơ quan nhà nước"),
        P("4.000002", "Chuyển mục đích sử dụng đất"),
        P("4.000003", "Giao đất, cho thuê đất, chuyển mục đích sử dụng đất"),
    ])
    assert idx.search("chuyển mục đích sử dụng đất sang đất ở").hits[0].code != "4.000001"

    def gap(q):  # score of the no-permit variant minus the general one
        s = {h.code: h.score for h in idx.search(q).hits}
        return s["4.000001"] - s["4.000002"]

    # asking "without a permit" moves the no-permit variant up (a bonus instead of a penalty)
    assert gap("chuyển mục đích đất không phải xin phép") > gap("chuyển mục đích đất xin phép") + 0.05


def test_scope_mismatch_is_never_confident():
    # the organisation's variant is missing: the individual one may rank first, but not confidently
    idx = _index(P("5.000001", "Đăng ký thuế lần đầu đối với người nộp thuế là cá nhân"))
    assert idx.search("đăng ký thuế lần đầu đối với cá nhân").confident
    r = idx.search("công ty đăng ký thuế lần đầu")
    assert r.hits[0].code == "5.000001" and not r.confident


# --- accent-aware typo correction --------------------------------------------------------------
TYPO_PROCS = [
    P("6.000001", "Đăng ký đóng, cấp thẻ bảo hiểm y tế cho hộ gia đình", field="Bảo hiểm y tế"),
    P("6.000002", "Giải quyết hưởng bảo hiểm xã hội một lần", field="Bảo hiểm xã hội"),
    P("6.000003", "Cấp lại giấy phép lái xe do bị mất", field="Giấy phép lái xe"),
    P("6.000004", "Thực hiện chế độ hiện hành", field="Khác"),
    P("6.000005", "Cấp biển số xe", field="Đăng ký xe"),
    P("6.000006", "Tổ chức hội chợ", field="Thương mại"),
]


def test_accent_typos_that_fold_into_another_word():
    idx = SearchIndex.build(TYPO_PROCS)
    # "hiển" folds to "hien" (as "hiện"), "mấc" to "mac": one consonant away from hiểm / mất
    assert idx.search("bảo hiển xã hội một lần").hits[0].code == "6.000002"
    assert idx.search("bảo hiển y tế hộ gia đình").hits[0].code == "6.000001"
    assert idx.search("giấy phép lái xe bị mấc").hits[0].code == "6.000003"
    # a different tone is not a consonant slip: "hôm" is not corrected to "hội"
    assert "hoi" not in idx.search("hôm nay").terms


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_accent_slips_change_one_consonant_only(data):
    """Every correction keeps the typed accents and vowels: it is one consonant away."""
    idx = SearchIndex.build(TYPO_PROCS)
    spelt = sorted({w for ws in idx.accented.values() for w in ws if w != fold(w) and len(w) >= 3})
    word = data.draw(st.sampled_from(spelt))
    pos = data.draw(st.sampled_from([i for i, c in enumerate(word) if c in "bcdghklmnpqrstvx"] or [0]))
    typo = word[:pos] + data.draw(st.sampled_from("bcdghklmnpqrstvx")) + word[pos + 1:]
    for f, _, spelling in idx._accent_slips(typo, fold(typo)):
        assert Levenshtein.distance(typo, spelling) == 1 and fold(spelling) == f != fold(typo)
        assert [c for c in typo if c not in "bcdghklmnpqrstvxđ"] == [c for c in spelling if c not in "bcdghklmnpqrstvxđ"]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TYPO_PROCS), st.sampled_from(["", " bị mấc", " hiển"]))
def test_property_unaccented_queries_rank_as_without_accent_typos(p, extra):
    """The rule needs accents: a query typed without them ranks exactly as before."""
    on = SearchIndex.build(TYPO_PROCS)
    off = SearchIndex.build(TYPO_PROCS, config=dataclasses.replace(on.config, accent_typos=False))
    q = fold(p.name + extra)
    assert [h.code for h in on.search(q).hits] == [h.code for h in off.search(q).hits]
