import unicodedata

from hypothesis import given, strategies as st

from kb.normalize import bigrams, content_tokens, fold, nfc, tokens


def test_fold_accents_and_d():
    assert fold("Căn cước") == "can cuoc"
    assert fold("ĐĂNG KÝ KẾT HÔN") == "dang ky ket hon"
    assert fold("đất đai") == "dat dai"


def test_nfd_input_folds_like_nfc():
    nfd = unicodedata.normalize("NFD", "Giấy chứng nhận quyền sử dụng đất")
    assert nfd != "Giấy chứng nhận quyền sử dụng đất"
    assert fold(nfd) == fold("Giấy chứng nhận quyền sử dụng đất") == "giay chung nhan quyen su dung dat"
    assert nfc(nfd) == "Giấy chứng nhận quyền sử dụng đất"


def test_tokens_split_punctuation():
    assert tokens("GCN-QSDĐ, (số 5)!  sổ   đỏ?") == ["gcn", "qsdd", "so", "5", "so", "do"]
    assert bigrams(["can", "cuoc", "moi"]) == ["can_cuoc", "cuoc_moi"]


def test_fillers_dropped_but_content_kept():
    assert content_tokens("Thủ tục cấp thẻ căn cước cần những giấy tờ gì?") == ["cap", "the", "can", "cuoc"]
    assert content_tokens("làm lại căn cước mất bao lâu") == ["lai", "can", "cuoc"]
    assert content_tokens("lam lai can cuoc mat bao lau") == ["lai", "can", "cuoc"]
    # "cần" is a filler, "căn" is not; "thế" is a filler, "thẻ" is not
    assert content_tokens("cần thẻ căn cước thế nào") == ["the", "can", "cuoc"]


def test_distinguishing_words_are_not_dropped():
    assert "lai" in content_tokens("cấp lại giấy phép lái xe")
    assert "moi" in content_tokens("cấp mới hộ chiếu")
    assert content_tokens("cấp giấy phép lao động cho người nước ngoài làm việc")[-2:] == ["lam", "viec"]
    # unaccented ambiguous words stay: "do" may be "đỏ", "the" may be "thẻ"
    assert content_tokens("so do") == ["so", "do"]
    assert content_tokens("the can cuoc") == ["the", "can", "cuoc"]


def test_only_fillers_gives_nothing():
    assert content_tokens("cho tôi hỏi cần những giấy tờ gì ạ") == []


@given(st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậđèẻẽéẹềểễếệ ĐÁÀ.,-", max_size=40))
def test_fold_is_idempotent_and_ascii(text):
    f = fold(text)
    assert fold(f) == f
    assert all(t.isascii() for t in tokens(text))
