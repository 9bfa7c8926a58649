import json

import pytest

from kb.importers import RowError, detect_and_parse, detect_format, merge
from kb.importers.common import extract_code
from kb.importers.national import clean_result, split_channels, split_documents, split_legal
from kb.importers.tables import online_level
from kb.model import Procedure


def split(items):
    ok = [x for x in items if not isinstance(x, RowError)]
    return ok, [x for x in items if isinstance(x, RowError)]


# --- national portal -----------------------------------------------------------------------
def test_channels_split_time_fee_description():
    chans, problems = split_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp20 Ngày làm việcKhông có thông tin"
        "Thời hạn giải quyết 30 ngày.Dịch vụ bưu chính5 NgàyMiễn phí(Không)Gửi qua bưu điện."
    )
    assert problems == []
    assert [(c.channel, c.time, c.time_days, c.fee, c.note) for c in chans] == [
        ("Trực tiếp", "20 Ngày làm việc", 20.0, "", "Thời hạn giải quyết 30 ngày."),
        ("Dịch vụ bưu chính", "5 Ngày", 5.0, "Miễn phí", "Gửi qua bưu điện."),  # "(Không)" = no note
    ]


def test_channels_unitless_time_glued_to_fee():
    chans, _ = split_channels("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1100 VNĐ(Phí 100.000 đồng)Trực tiếp120,000 VNĐ")
    assert [(c.time, c.fee) for c in chans] == [("1", "100 VNĐ (Phí 100.000 đồng)"), ("1", "20,000 VNĐ")]


def test_channels_description_mentioning_a_channel_is_not_split():
    chans, _ = split_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp5 Ngày làm việcMiễn phí"
        "+ Trực tuyến: nộp hồ sơ qua Cổng dịch vụ công.Trực tiếp nộp tại trụ sở."
    )
    assert len(chans) == 1 and chans[0].note.startswith("+ Trực tuyến: nộp")


def test_documents_split_name_form_copies_and_groups():
    docs, problems = split_documents(
        "--Tên giấy tờMẫu đơn, tờ khaiSố lượngTờ khai theo Thông tư 17/2024/TT-BCA;Mẫu số 01.docx1 bản chính"
        "Bản sao hợp đồng (01 bản chính) nếu có0 bản chính,1 bản sao"
        "* Trường hợp ủy quyền:Tên giấy tờMẫu đơn, tờ khaiSố lượngVăn bản ủy quyền1 bản chính"
    )
    assert problems == []
    assert [(d.name, d.form, d.copies) for d in docs] == [
        ("Tờ khai theo Thông tư 17/2024/TT-BCA", "Mẫu số 01.docx", "Bản chính: 1"),
        ("Bản sao hợp đồng (01 bản chính) nếu có", "", "Bản chính: 0, Bản sao: 1"),
        ("* Trường hợp ủy quyền:", "", ""),
        ("Văn bản ủy quyền", "", "Bản chính: 1"),
    ]


def test_legal_basis_split_title_number():
    refs, _ = split_legal(
        "Tên văn bản pháp lýMã văn bảnHướng dẫn xử lý khiếu nại68/2013/TT-BCALuật Khiếu nại năm 201102/2011/QH13"
        "Nghị định 05/2012/NĐ-CP05/2012/NĐ-CPQuyết định 12/2021/QĐ-TTg12/2021/QĐ-TTg"
    )
    assert [(r.title, r.number) for r in refs] == [
        ("Hướng dẫn xử lý khiếu nại", "68/2013/TT-BCA"),
        ("Luật Khiếu nại năm 2011", "02/2011/QH13"),
        ("Nghị định 05/2012/NĐ-CP", "05/2012/NĐ-CP"),
        ("Quyết định 12/2021/QĐ-TTg", "12/2021/QĐ-TTg"),
    ]
    assert split_legal("Không có thông tin") == ([], [])


def test_result_boilerplate_removed():
    assert clean_result(
        "Quyết định giải quyếtMã: KQ.G01.00262Từ khóaKhông có thông tinMô tảKhông có thông tin"
        "Chọn cơ quan thực hiệnTỉnh/ Thành phố-- Chọn --Nộp hồ sơ"
    ) == "Quyết định giải quyết"


def test_national_file_fixture(fixtures):
    ok, errors = split(list(detect_and_parse(fixtures / "national-sample.jsonl.gz")))
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [(2, "invalid JSON"), (3, "ma_thu_tuc")]
    (p,) = ok
    assert p.code == "1.000999"  # ma_thu_tuc, not the code inside raw_text
    assert p.authorised_agency == ""  # "Không có thông tin" = empty
    assert p.subjects == ("Công dân Việt Nam", "Tổ chức (không bao gồm doanh nghiệp, HTX)")
    assert p.steps == ("Bước 1: Nộp hồ sơ.", "Bước 2: Nhận kết quả.")
    assert p.result == "Thẻ căn cước"
    assert [c.channel for c in p.channels] == ["Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"]
    assert p.channels[2].time == "" and p.channels[2].fee == ""
    assert p.legal_basis[0].number == "26/2023/QH15"


# --- Defence -----------------------------------------------------------------------------------
def test_bqp_fixture(fixtures):
    ok, errors = split(list(detect_and_parse(fixtures / "bqp-sample.jsonl")))
    assert len(errors) == 1 and errors[0].line == 2
    (p,) = ok
    assert p.level == "Cấp xã"
    assert p.channels[0].fee == "Miễn phí" and p.channels[0].time == "01 Giờ" and p.channels[0].time_days is None
    assert p.documents[0].copies == "Bản chính: 1, Bản sao: 0" and p.documents[0].form == "mau1.doc"
    ref = p.legal_basis[0]
    assert (ref.number, ref.date, ref.issuer) == ("78/2015/QH13", "2015-06-19", "Quốc hội")


# --- tables ----------------------------------------------------------------------------------
def test_codes_stored_as_numbers_keep_trailing_zeros():
    assert extract_code(1.00041) == ("1.000410", "1.000410")
    assert extract_code(2.000815) == ("2.000815", "2.000815")
    assert extract_code(" 1.010061 .000.00.00.H37") == ("1.010061", "1.010061.000.00.00.H37")
    assert extract_code("CCCX_01") == (None, "CCCX_01")


def test_online_levels():
    assert online_level("Toàn trình") == "toan_trinh"
    assert online_level("Một phần") == "mot_phan"
    assert online_level("Mức độ 4") == "toan_trinh"
    assert online_level("Mức độ 3") == "mot_phan"
    assert online_level("Mức độ 2") is None and online_level("Còn lại") is None


def test_xlsx_fixture(fixtures):
    items = list(detect_and_parse(fixtures / "catalog-sample.xlsx"))
    ok, errors = split(items)
    assert {e.line: e.reason.split(":")[0] for e in errors} == {
        5: "test row rejected",
        6: "test row rejected",
        12: "'CCCX_01' is not a national procedure code like 1.000419",
        14: "1.004222",
    }
    by = {p.code: p for p in ok}
    assert sorted(by) == ["1.000410", "1.001193", "1.010061", "2.000800"]
    assert by["1.000410"].online_level == "toan_trinh" and by["1.000410"].decision == "1/QĐ-UBND"
    assert by["2.000800"].online_level == "mot_phan"
    assert by["1.001193"].online_level is None and by["1.001193"].local_codes == ("1.001193.000.00.00.H37",)


def test_csv_fixture(fixtures):
    ok, errors = split(list(detect_and_parse(fixtures / "catalog-sample.csv")))
    assert [(e.line, "XYZ" in e.reason) for e in errors] == [(5, True)]
    by = {p.code: p for p in ok}
    assert by["1.012275"].local_codes == ("1.012275.H36",) and by["1.012275"].online_level == "mot_phan"
    assert by["1.012275"].level == "Cấp tỉnh"
    assert by["1.003695"].level == "Cấp xã" and by["1.003695"].online_level == "toan_trinh"
    assert by["2.000643"].online_level is None


def test_detect_format(fixtures, tmp_path):
    assert detect_format(fixtures / "national-sample.jsonl.gz") == "national"
    assert detect_format(fixtures / "bqp-sample.jsonl") == "bqp"
    assert detect_format(fixtures / "catalog-sample.csv") == "table"
    canon = tmp_path / "x.jsonl"
    canon.write_text(json.dumps({"code": "1.000419", "name": "X"}) + "\n", encoding="utf-8")
    assert detect_format(canon) == "canonical"
    bad = tmp_path / "y.jsonl"
    bad.write_text('{"foo": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown JSON record shape"):
        detect_format(bad)


# --- merge -----------------------------------------------------------------------------------
def test_merge_catalog_into_detail_and_back():
    detail = Procedure.from_dict({
        "code": "1.001193", "name": "Thủ tục đăng ký khai sinh", "level": "Cấp xã",
        "documents": [{"name": "Tờ khai", "copies": "Bản chính: 1"}], "keywords": ["khai sinh"], "source": "national-portal",
    })
    catalog = Procedure.from_dict({
        "code": "1.001193", "local_codes": ["1.001193.000.00.00.H37"], "name": "Đăng ký khai sinh", "field": "Hộ tịch",
        "online_level": "mot_phan", "source": "catalog.xlsx",
    })
    for merged in (merge(detail, catalog), merge(catalog, detail)):
        assert merged.name == "Thủ tục đăng ký khai sinh"  # detail record's name kept
        assert merged.documents == detail.documents
        assert merged.field == "Hộ tịch" and merged.online_level == "mot_phan"
        assert merged.local_codes == ("1.001193.000.00.00.H37",)
        assert merged.keywords == ("khai sinh",)
        assert set(merged.source.split(" + ")) == {"national-portal", "catalog.xlsx"}
    assert merge(None, catalog) is catalog
    again = merge(merge(detail, catalog), catalog)
    assert again.source.count("catalog.xlsx") == 1 and again.local_codes == ("1.001193.000.00.00.H37",)
    with pytest.raises(ValueError):
        merge(detail, Procedure(code="1.000419", name="x"))
