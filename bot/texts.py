"""What the core itself says. Feature wording lives with the handlers."""

ERROR = ("Xin lỗi, hệ thống gặp sự cố khi xử lý yêu cầu của bạn. "
         "Vui lòng thử lại sau ít phút hoặc gõ \"Menu\" để bắt đầu lại.")
BUSY = "Hệ thống đang bận, vui lòng thử lại sau ít phút."
EXPIRED = ("Phiên trò chuyện trước đã kết thúc vì quá {minutes} phút không có tin nhắn. "
           "Mời bạn bắt đầu lại.")
CANCELLED = "Đã hủy thao tác đang làm."
RESUME_OFFER = ("Bạn đang soạn dở {what} (lần cuối lúc {since}). Chọn “Tiếp tục soạn” để làm tiếp "
                "từ bước đang dừng, hoặc nhập yêu cầu khác.")
RESUME_LABEL = "Tiếp tục soạn"
DROP_DRAFT_LABEL = "Bỏ bản nháp"
STALE_CHOICE = "Lựa chọn này không còn hiệu lực. Vui lòng chọn lại trong danh sách dưới đây."
NOT_UNDERSTOOD = ("Xin lỗi, tôi chưa hiểu yêu cầu của bạn. "
                  "Vui lòng chọn một mục dưới đây hoặc gõ câu hỏi ngắn gọn hơn.")
UNSUPPORTED_CONTENT = ("Tôi chưa xử lý được loại tin nhắn này ở bước hiện tại. "
                       "Vui lòng chọn một mục dưới đây.")
MENU_PROMPT = "Bạn cần hỗ trợ gì? Vui lòng chọn một mục dưới đây hoặc nhập câu hỏi của bạn."
GREETING = "Xin chào! Tôi là {bot_name} của {province}."
CANCEL_LABEL = "Hủy"
MENU_LABEL = "Menu"
