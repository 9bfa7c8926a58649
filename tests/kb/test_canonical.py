import unicodedata
from pathlib import Path

import pytest

from kb.canonical import BUNDLED_DIR, CanonicalError, dump_jsonl, dump_yaml, iter_yaml, load_bundled, load_dir, load_file
from kb.importers import RowError
from kb.model import LegalRef, Procedure, RequiredDocument, SubmissionChannel

P = Procedure(
    code="1.000894", name="Thủ tục đăng ký kết hôn", level="Cấp xã", field="Hộ tịch",
    channels=(SubmissionChannel("Trực tiếp", "03 Ngày làm việc", 3.0, "ngày làm việc", "Miễn phí"),),
    documents=(RequiredDocument("Tờ khai đăng ký kết hôn", "Mẫu.docx", "Bản chính: 1"),),
    legal_basis=(LegalRef("Luật Hộ tịch", "60/2014/QH13", "2014-11-20"),),
    keywords=("đăng ký kết hôn", "giấy kết hôn"), online_level="mot_phan", conditions="Dòng 1\nDòng 2",
)


def test_yaml_and_jsonl_round_trip(tmp_path):
    y = tmp_path / "a.yaml"
    dump_yaml([P], y)
    assert load_file(y) == [P]
    j = tmp_path / "b.jsonl"
    dump_jsonl([P], j)
    assert load_file(j) == [P]


def test_errors_carry_file_line_and_reason(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(
        "- code: 1.000894\n  name: Đăng ký kết hôn\n"
        "- code: '123'\n  name: Sai mã\n"
        "- code: 1.000656\n  name: Khai tử\n  colour: red\n",
        encoding="utf-8",
    )
    items = list(iter_yaml(f))
    errors = [i for i in items if isinstance(i, RowError)]
    assert [(e.source, e.line) for e in errors] == [("bad.yaml", 3), ("bad.yaml", 5)]
    assert "is not a procedure code" in errors[0].reason and "colour: unknown field" in errors[1].reason
    with pytest.raises(CanonicalError) as exc:
        load_file(f)
    assert len(exc.value.errors) == 2


def test_yaml_syntax_error_has_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("- code: 1.000894\n  name: [unclosed\n", encoding="utf-8")
    (err,) = list(iter_yaml(f))
    assert isinstance(err, RowError) and err.line >= 2 and "invalid YAML" in err.reason


def test_duplicate_code_across_files(tmp_path):
    dump_yaml([P], tmp_path / "a.yaml")
    dump_yaml([P], tmp_path / "b.yaml")
    with pytest.raises(CanonicalError, match="already defined in a.yaml"):
        load_dir(tmp_path)


def test_bundled_kb_loads():
    procs = load_bundled()
    assert all(isinstance(p, Procedure) for p in procs)
    assert len({p.code for p in procs}) == len(procs)


def test_decomposed_accents_are_stored_composed(tmp_path):
    # "Cấp" typed as "Câ" + combining acute (as copied from some pages): shown as is, some
    # screens draw the accent apart from its letter
    decomposed = unicodedata.normalize("NFD", "Cấp, quản lý căn cước")
    f = tmp_path / "nfd.yaml"
    f.write_text(f"- code: 1.014064\n  name: {decomposed}\n  field: {decomposed}\n"
                 f"  subjects: ['{decomposed}']\n  channels:\n  - {{channel: '{decomposed}', fee: '{decomposed}'}}\n",
                 encoding="utf-8")
    (p,) = load_file(f)
    composed = "Cấp, quản lý căn cước"
    assert p.name == p.field == p.subjects[0] == p.channels[0].channel == p.channels[0].fee == composed


def test_bundled_kb_files_are_composed():
    files = sorted(Path(BUNDLED_DIR).glob("*.y*ml"))
    assert files
    for f in files:
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            assert unicodedata.is_normalized("NFC", line), f"{f.name}:{n}: {line[:60]}"
