"""What the bot says about dossiers (Vietnamese, short, as a good one-stop clerk writes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.dossiers.model import Dossier, Status
from bot.messages import Choice, Reply

BUSY = "Hệ thống đang bận, vui lòng thử lại sau ít phút."
OFF = ("Chức năng tra cứu hồ sơ trên kênh này chưa được kết nối với hệ thống một cửa điện tử. "
       "Bạn vui lòng tra cứu hồ sơ{where} hoặc gọi {hotline_label} {hotline} để được hỗ trợ.")
ASK_CODE = ("Vui lòng nhập mã hồ sơ (in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả), "
            "ví dụ: {example}")
NOT_FOUND = ("Không tìm thấy hồ sơ có mã {code}. Vui lòng kiểm tra lại mã trên Giấy tiếp nhận "
             "hồ sơ và hẹn trả kết quả rồi nhập lại. Nếu hồ sơ vừa nộp hôm nay, vui lòng tra cứu lại sau.")
TOO_MANY_LOOKUPS = ("Bạn đã tra cứu quá nhiều lần trong thời gian ngắn. "
                    "Vui lòng thử lại sau khoảng {minutes} phút.")
ASK_PROOF = ("Để bảo vệ thông tin của người nộp, vui lòng xác nhận bạn là chủ hồ sơ {code}: "
             "nhập 4 số cuối của số điện thoại đã khai trên hồ sơ, hoặc số định danh cá nhân "
             "(số căn cước/CCCD) của người nộp.")
PROOF_MALFORMED = ("Vui lòng nhập đúng 4 số cuối của số điện thoại (ví dụ: 5678) hoặc đủ 12 số "
                   "định danh cá nhân.")
PROOF_WRONG = "Thông tin chưa khớp với hồ sơ. Bạn còn {remaining} lần thử."
PROOF_BLOCKED = ("Bạn đã nhập sai quá số lần cho phép. Để bảo vệ hồ sơ, việc xác nhận tạm khóa "
                 "khoảng {hours}. Bạn có thể xem tóm tắt hồ sơ bất cứ lúc nào, hoặc liên hệ "
                 "bộ phận một cửa nơi nộp hồ sơ.")
FOLLOWED = ("Đã đăng ký theo dõi hồ sơ {code}. Khi hồ sơ chuyển bước hoặc cần bạn làm gì thêm, "
            "tôi sẽ nhắn bạn (không nhắn vào ban đêm). Bạn có thể hủy theo dõi bất cứ lúc nào.")
ALREADY_FOLLOWED = "Bạn đang theo dõi hồ sơ {code}. Tôi sẽ nhắn khi hồ sơ có thay đổi."
FINISHED_NO_FOLLOW = "Hồ sơ {code} đã kết thúc ({status}), không còn thay đổi để theo dõi."
UNFOLLOWED = "Đã hủy theo dõi hồ sơ {code}. Bạn sẽ không nhận thêm thông báo về hồ sơ này."
NOT_FOLLOWING = "Bạn không theo dõi hồ sơ {code}."
NO_SUBSCRIPTIONS = "Bạn chưa theo dõi hồ sơ nào. Hãy nhập mã hồ sơ để bắt đầu theo dõi."
SUBSCRIPTIONS = "Các hồ sơ bạn đang theo dõi:\n{lines}\nBấm nút bên dưới để hủy theo dõi một hồ sơ."

LABEL_DETAILS = "Xem chi tiết"
LABEL_FOLLOW = "Theo dõi hồ sơ"
LABEL_UNFOLLOW = "Hủy theo dõi"
LABEL_ANOTHER = "Tra cứu hồ sơ khác"
LABEL_FOLLOW_ANOTHER = "Theo dõi hồ sơ khác"


def day(dt: datetime | None, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%d/%m/%Y") if dt else "chưa có"


def moment(dt: datetime | None, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%H:%M %d/%m/%Y") if dt else "chưa có"


def money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def days_text(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days < 1:
        hours = max(1, round(delta.total_seconds() / 3600))
        return f"{hours} giờ"
    return f"{int(days + 0.999)} ngày"


def lateness_lines(d: Dossier, tz: ZoneInfo, now: datetime) -> list[str]:
    late = d.lateness(now)
    if not late:
        return []
    verb = "đã trả kết quả chậm" if d.status.finished else "đang chậm"
    lines = [f"Hồ sơ {verb} {days_text(late)} so với ngày hẹn trả "
             "(đã trừ thời gian bạn bổ sung giấy tờ)."]
    if d.apology is not None:
        lines.append(f"Cơ quan giải quyết đã gửi Phiếu xin lỗi và hẹn lại ngày trả kết quả: "
                     f"ngày hẹn mới là {day(d.apology.new_due_at, tz)}.")
    elif not d.status.finished:
        lines.append("Cơ quan giải quyết chưa gửi Phiếu xin lỗi và hẹn lại ngày trả kết quả cho hồ sơ này. "
                     "Bạn có quyền đề nghị bộ phận một cửa giải thích và hẹn lại ngày trả.")
    return lines


def summary(d: Dossier, tz: ZoneInfo, now: datetime) -> str:
    lines = [f"Hồ sơ {d.code}",
             f"Thủ tục: {d.procedure_name or 'chưa có thông tin'}",
             f"Ngày tiếp nhận: {day(d.received_at, tz)}",
             f"Ngày hẹn trả kết quả: {day(d.due_at, tz)}",
             f"Tình trạng: {d.status.citizen_text}"]
    return "\n".join(lines + lateness_lines(d, tz, now))


def details(d: Dossier, tz: ZoneInfo, now: datetime) -> str:
    out = [f"Chi tiết hồ sơ {d.code}"]
    if d.applicant_name:
        out.append(f"Người nộp: {d.applicant_name}")
    out.append(f"Tình trạng: {d.status.citizen_text}")
    if d.current_step or d.handling_unit:
        step = " — ".join(x for x in (d.current_step, d.handling_unit) if x)
        out.append(f"Bước hiện tại: {step}")
    if d.agency:
        out.append(f"Cơ quan giải quyết: {d.agency}")
    out.append(f"Ngày hẹn trả kết quả: {moment(d.due_at, tz)}")
    out += lateness_lines(d, tz, now)
    if d.apology is not None and d.apology.reason:
        out.append(f"Lý do chậm (theo phiếu xin lỗi): {d.apology.reason}")
    if d.note:
        out.append(f"Ghi chú của cơ quan: {d.note}")
    if d.missing_papers and d.status is Status.SUPPLEMENT_REQUIRED:
        out.append("Giấy tờ cần bổ sung:\n" + "\n".join(f"• {p}" for p in d.missing_papers))
    if d.fees_due:
        out.append("Phí, lệ phí cần nộp:\n" + "\n".join(f"• {f.name}: {money(f.amount)}" for f in d.fees_due))
    if d.history:
        shown = d.history[-8:]
        out.append("Quá trình xử lý:\n" + "\n".join(
            f"• {moment(h.at, tz)} — {h.step}" + (f" ({h.unit})" if h.unit else "") for h in shown))
    if d.pickup and d.status not in (Status.RETURNED, Status.REJECTED, Status.WITHDRAWN):
        out.append(f"Nơi và cách nhận kết quả: {d.pickup}")
    return "\n".join(out)


def status_notification(d: Dossier, tz: ZoneInfo, now: datetime, *, closed: bool) -> list[Reply]:
    head = f"Hồ sơ {d.code}" + (f" ({d.procedure_name})" if d.procedure_name else "")
    if d.status is Status.SUPPLEMENT_REQUIRED:
        papers = "\n".join(f"• {p}" for p in d.missing_papers) or "• (xem chi tiết hồ sơ)"
        where = d.handling_unit or d.agency or "bộ phận một cửa nơi bạn nộp hồ sơ"
        text = (f"{head}: cơ quan giải quyết đề nghị bổ sung giấy tờ.\n"
                f"Việc bạn cần làm: nộp bổ sung các giấy tờ sau tại {where}:\n{papers}\n"
                "Thời gian bạn bổ sung giấy tờ không bị tính là chậm.")
    elif d.status is Status.PAYMENT_REQUIRED:
        fees = "\n".join(f"• {f.name}: {money(f.amount)}" for f in d.fees_due) or "• (xem chi tiết hồ sơ)"
        text = f"{head}: cần thực hiện nghĩa vụ tài chính.\nViệc bạn cần làm: nộp các khoản sau:\n{fees}"
    elif d.status is Status.DONE:
        where = d.pickup or "bộ phận một cửa nơi bạn nộp hồ sơ"
        text = (f"{head} đã có kết quả.\nViệc bạn cần làm: nhận kết quả tại {where}. Khi đi, vui lòng "
                "mang theo Giấy tiếp nhận hồ sơ và hẹn trả kết quả và giấy tờ tùy thân.")
    else:
        text = f"{head}: {d.status.citizen_text}"
        if d.note and d.status in (Status.REJECTED, Status.STOPPED):
            text += f"\nLý do: {d.note}"
        elif d.current_step and not d.status.terminal:
            text += f"\nBước hiện tại: {d.current_step}" + (f" ({d.handling_unit})" if d.handling_unit else "")
    late = lateness_lines(d, tz, now) if not d.status.terminal else []
    if late:
        text += "\n" + "\n".join(late)
    choices = [Choice(LABEL_DETAILS, f"dos:det:{d.code}")]
    if closed:
        text += "\nViệc theo dõi hồ sơ này đã kết thúc."
        if d.status is Status.RETURNED:
            text += " Cảm ơn bạn đã sử dụng dịch vụ công."
    else:
        choices.append(Choice(LABEL_UNFOLLOW, f"dos:uns:{d.code}"))
    return [Reply(text, tuple(choices))]


def apology_notification(d: Dossier, tz: ZoneInfo) -> list[Reply]:
    assert d.apology is not None
    text = (f"Hồ sơ {d.code}: cơ quan giải quyết xin lỗi vì hồ sơ chậm so với ngày hẹn trả "
            f"{day(d.due_at, tz)} và hẹn lại ngày trả kết quả là {day(d.apology.new_due_at, tz)}.")
    if d.apology.reason:
        text += f"\nLý do: {d.apology.reason}"
    return [Reply(text, (Choice(LABEL_DETAILS, f"dos:det:{d.code}"),
                         Choice(LABEL_UNFOLLOW, f"dos:uns:{d.code}")))]
