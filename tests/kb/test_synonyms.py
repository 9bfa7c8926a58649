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
