import pytest

from kb.normalize import filler_mask, word_pairs
from kb.synonyms import SynonymError, Synonyms, load_synonyms


def expand(q):
    s = load_synonyms()
    pairs = word_pairs(q)
    return [(e.start, e.end, [" ".join(p) for p in e.phrases]) for e in s.find(pairs, filler_mask([f for _, f in pairs]))]


def test_bundled_file_is_large_and_valid():
    s = load_synonyms()
    assert len(s) >= 60


@pytest.mark.parametrize(
    "query,official",
    [
        ("cccd", "the can cuoc"),
        ("CMND", "chung minh nhan dan"),
        ("gplx", "giay phep lai xe"),
        ("sổ đỏ", "giay chung nhan quyen su dung dat"),
        ("so hong", "giay chung nhan quyen su dung dat"),
        ("gcn qsdđ", "giay chung nhan quyen su dung dat"),
        ("GCN-QSDD", "giay chung nhan quyen su dung dat"),
        ("hkd", "ho kinh doanh"),
        ("đkkd", "dang ky kinh doanh"),
        ("gpxd", "cap giay phep xay dung"),
        ("lltp", "phieu ly lich tu phap"),
        ("ly lich tu phap", "phieu ly lich tu phap"),
        ("giấy khai sinh", "dang ky khai sinh"),
        ("giấy đăng ký kết hôn", "dang ky ket hon"),
        ("hộ khẩu", "cu tru"),
        ("làm căn cước", "cap the can cuoc"),
        ("tiệm tạp hóa", "dang ky thanh lap ho kinh doanh"),
        ("công ty tnhh 2 tv", "hai thanh vien tro len"),
        ("xác nhận sơ yếu lý lịch", "chung thuc chu ky"),
        ("bằng lái bị trừ hết điểm", "kiem tra kien thuc phap luat ve trat tu"),
        ("nhờ người nhận thay lương hưu", "uy quyen linh thay"),
        ("visa sắp hết hạn", "gia han tam tru"),
    ],
)
def test_abbreviations_map_to_official_terms(query, official):
    found = [p for _, _, phrases in expand(query) for p in phrases]
    assert official in found, found


def test_accented_word_needs_same_accents():
    assert expand("khai thác mặt nước") == []  # "mặt" is not "mất"
    assert expand("mất cccd")[0][2] == ["cap lai"]
    assert expand("mat cccd")[0][2] == ["cap lai"]  # unaccented: ambiguous, allowed


def test_filler_phrase_is_not_expanded():
    # "mất bao lâu" is a question phrase, not "lost"
    assert all("cap lai" not in p for _, _, ps in expand("đổi căn cước mất bao lâu") for p in ps if _ == 2)


def test_longest_match_wins():
    (start, end, phrases), = expand("làm lại")
    assert (start, end, phrases) == (0, 2, ["cap lai"])


def test_malformed_file_is_rejected():
    with pytest.raises(SynonymError, match="entry 1"):
        Synonyms.from_data({"entries": [{"match": ["x"]}]})
    with pytest.raises(SynonymError, match="weight"):
        Synonyms.from_data({"entries": [{"match": ["x"], "expand": ["y"], "weight": 2}]})


def _phrases(q):
    return {p for _, _, phrases in expand(q) for p in phrases}


def test_one_accent_slip_in_a_phrase_is_forgiven():
    # "sổ đổ": the accented "sổ" anchors the phrase, the slip on "đỏ" is forgiven
    assert "giay chung nhan quyen su dung dat" in _phrases("sổ đổ")
    assert "chuyen nhuong quyen su dung dat" in _phrases("sang tên sổ đổ")
    # but a single word must carry its own accents, and two slips are not a typo
    assert "giay chung nhan quyen su dung dat" not in _phrases("sở đổ")


def test_short_words_that_fold_like_common_words_do_not_expand():
    # "cho" (for) is not "chó", "bố" is not "bò": no livestock words in a birth/death question
    assert "dong vat tren can" not in _phrases("giấy khai sinh cho con")
    assert "dong vat tren can" not in _phrases("làm giấy chứng tử cho bố")
    assert "dong vat tren can" in _phrases("kiểm dịch gà vận chuyển")


def test_everyday_phrases_do_not_fire_inside_other_words():
    # "công nhận hộ nghèo" holds "nhận hộ" (to collect for someone): not a proxy for a pension
    assert "uy quyen linh thay" not in _phrases("công nhận hộ nghèo")
    # a deceased pensioner's unpaid months are *truy lĩnh*, not a proxy
    assert "uy quyen linh thay" not in _phrases("bố mất, gia đình lĩnh thay tháng lương chưa nhận")


def test_a_bare_paper_word_followed_by_another_paper_is_not_the_land_certificate():
    lost_land = "cap lai giay chung nhan do bi mat"
    assert lost_land in _phrases("mất sổ rồi làm sao")
    assert lost_land in _phrases("mat so roi lam sao")  # a filler after it does not count
    assert lost_land in _phrases("mất sổ ở đâu làm lại")
    assert lost_land in _phrases("mất sổ nhà")
    assert lost_land not in _phrases("mất sổ bhxh xin cấp lại")
    assert lost_land not in _phrases("mat so bao hiem xa hoi")
    assert "dang ky dat dai" not in _phrases("cấp sổ bảo hiểm xã hội")
    # any other word after it leaves it alone
    assert "dang ky dat dai" in _phrases("làm sổ lần đầu")
    assert "dang ky dat dai" in _phrases("đất ông bà để lại chưa có sổ, cháu muốn đứng tên")
    assert "tach thua" in _phrases("tach so do")
    # "biển số", "cá thể" end in words that fold like "sổ" / "thẻ": not papers
    assert "ho kinh doanh" in _phrases("hộ cá thể bán tạp hóa")


def test_a_misspelling_that_is_a_word_is_respelt_before_other_entries():
    s = load_synonyms()
    assert s.respell(word_pairs("tạm chú")) == word_pairs("tạm trú")
    assert s.respell(word_pairs("tam chu sinh vien")) == word_pairs("tạm trú sinh vien")
    assert s.respell(word_pairs("thường chú")) == word_pairs("thường trú")
    # the respelt words take part in the other entries: "hộ chiu bị mất" is a lost passport
    pairs = s.respell(word_pairs("ho chiu bi mat"))
    assert "trinh bao mat ho chieu" in {" ".join(p) for e in s.find(pairs) for p in e.phrases}
    # other words, and the same words in another order, are untouched
    assert s.respell(word_pairs("tạm dừng kinh doanh")) == word_pairs("tạm dừng kinh doanh")
    assert s.respell(word_pairs("chú tạm")) == word_pairs("chú tạm")
    with pytest.raises(SynonymError, match="respell"):
        Synonyms.from_data({"entries": [{"match": ["x"], "expand": ["y", "z"], "respell": True}]})


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([e for e in load_synonyms().entries]))
def test_property_every_match_phrase_expands_as_typed_and_folded(entry):
    from kb.normalize import fold

    for ph in entry.match:
        text = " ".join(a for a, _ in ph)
        for q in (text, fold(text)):
            if entry.respell:  # a misspelling is written right, not expanded
                assert load_synonyms().respell(word_pairs(q)) == list(entry.respell), q
            else:
                assert expand(q), q
