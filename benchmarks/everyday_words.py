"""Everyday words typed alone: how many does the search answer confidently?

    .venv/bin/python benchmarks/everyday_words.py [--kb bundled|full] [--set object_check=false]

A citizen's chat holds words that name no procedure ("sai", "vợ", "mất rồi", "lệ phí",
"địa chỉ"). Typed alone, none of them should open a procedure card with confidence: the
bot should ask. Prints every confident answer and the count.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import search_quality as sq  # noqa: E402
from kb.search import SearchConfig, SearchIndex  # noqa: E402

LINES = """có không được rồi sao vậy gì nào đâu khi nào bao giờ hôm nay ngày mai tuần sau tháng này năm nay
chào anh chị em cháu bác cô chú ông bà bố mẹ ba má con vợ chồng nhà cửa tiền lương việc làm học sinh
trường học bệnh viện xe cộ đường sá điện nước internet điện thoại mạng wifi giúp tôi với hỏi chút
làm ơn xin lỗi nhầm sai rồi đúng rồi tốt lắm hay quá chán quá lâu quá chậm quá nhanh lên gấp lắm
mất rồi hết hạn rồi quá hạn trễ hẹn thời gian bao lâu mấy giờ mở cửa giờ làm việc ngày nghỉ thứ bảy chủ nhật
ở đâu địa chỉ số điện thoại liên hệ hotline tổng đài email website trang web
thủ tục giấy tờ hồ sơ đơn từ mẫu đơn biểu mẫu tờ khai chữ ký con dấu
thời hạn hạn chót kết quả trả kết quả nhận kết quả lấy kết quả phí lệ phí miễn phí"""


def queries() -> list[str]:
    """Every word of LINES and every pair of neighbours (1-2, 3-4, …), once each."""
    out: dict[str, None] = {}
    for line in LINES.split("\n"):
        toks = line.split()
        out.update(dict.fromkeys(toks))
        out.update(dict.fromkeys(" ".join(toks[i:i + 2]) for i in range(0, len(toks) - 1, 2)))
    return list(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", choices=("bundled", "full"), default="bundled")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    config = dataclasses.replace(SearchConfig(), **sq.parse_overrides(args.set))
    index = SearchIndex.build(sq.load_procedures(args.kb), config=config)
    qs = queries()
    confident = 0
    for q in qs:
        r = index.search(q, limit=1)
        if r.confident:
            confident += 1
            print(f"  {q!r} -> {r.hits[0].code} {r.hits[0].score:.3f} {r.hits[0].name[:70]}")
    print(f"{args.kb} KB: {confident} of {len(qs)} everyday words and pairs answered confidently")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
