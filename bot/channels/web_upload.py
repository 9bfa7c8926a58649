"""Photo and file upload for the web chat: ``POST /api/upload`` (multipart, field ``file``).

The file is streamed, never read whole into memory; reading stops one byte past
``pakn.max_attachment_bytes``. The type is taken from the file's first bytes (JPEG, PNG,
WEBP, PDF), not from what the browser claims. An accepted file is saved under
``pakn.upload_dir`` with a random name (served to staff only, by the dashboard); a file too
big or of the wrong type is not saved. Either way the core receives an attachment message,
so the conversation answers exactly as it does for a photo on Telegram ("quá lớn", "không
đúng định dạng", "đã nhận 2/5").
"""

from __future__ import annotations

import logging
import mimetypes
import re
import secrets
from pathlib import Path

from aiohttp import web

from bot.channels.web import COOKIE, WebChannel, _error, busy
from bot.messages import Attachment, ConversationKey, Incoming, Kind

log = logging.getLogger(__name__)

_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}


def sniff(head: bytes) -> str:
    """The MIME type of a file from its first bytes ('' when unknown)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return ""


class WebUpload:
    def __init__(self, channel: WebChannel, config) -> None:
        self.channel = channel
        self.cfg = config.pakn
        self.dir = Path(self.cfg.upload_dir)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/upload", self.upload)]

    async def upload(self, request: web.Request) -> web.Response:
        sid = request.cookies.get(COOKIE, "")
        if not re.match(r"^[A-Za-z0-9_-]{22,64}$", sid):
            return _error(400, "Vui lòng tải lại trang trước khi gửi tệp.")
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError, KeyError):
            return _error(400, "Yêu cầu không hợp lệ. Vui lòng tải lại trang và thử lại.")
        client_id, after, saved, meta = "", 0, None, None
        limit = self.cfg.max_attachment_bytes
        while True:
            part = await reader.next()
            if part is None:
                break
            if part.name == "id":
                client_id = (await part.text())[:64]
            elif part.name == "after":
                value = (await part.text()).strip()
                after = int(value) if value.isdigit() else 0
            elif part.name == "file":
                meta = await self._receive(part, limit)
                saved = meta[3]
                break  # the client sends "id" and "after" first; anything after the file is ignored
        if meta is None:
            return _error(400, "Vui lòng chọn một ảnh hoặc tệp.")
        if client_id and not _CLIENT_ID_RE.match(client_id):
            return _error(400, "Yêu cầu không hợp lệ.")
        name, mime, size, path = meta
        ref = f"upload:{path.name}" if path is not None else f"rejected:{secrets.token_hex(8)}"
        kind = "image" if mime.startswith("image/") else "file"
        key = ConversationKey(self.channel.name, sid, sid)
        msg = Incoming(key=key, kind=Kind.ATTACHMENT,
                       attachments=(Attachment(kind, ref, name=name, mime_type=mime, size=size),),
                       update_id=f"{sid}:{client_id}" if client_id else "")
        page = await self.channel.handle_and_read(msg, sid, after)
        log.info("web upload", extra={"mime": mime, "size": size, "saved": saved is not None})
        return web.json_response(page) if page is not None else busy()

    async def _receive(self, part, limit: int) -> tuple[str, str, int, Path | None]:
        """Stream one file part: (name, sniffed type, size, saved path or None)."""
        name = re.sub(r"[\x00-\x1f/\\]", "_", part.filename or "tệp")[:200]
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".part-{secrets.token_hex(12)}"
        size, head, too_big = 0, b"", False
        try:
            with tmp.open("wb") as out:
                while True:
                    chunk = await part.read_chunk(64 * 1024)
                    if not chunk:
                        break
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    size += len(chunk)
                    if size > limit:
                        too_big = True
                        break
                    out.write(chunk)
            claimed = (part.headers.get("Content-Type", "") or "").split(";")[0].strip().lower()
            # A type we can recognise must be recognised; others (e.g. image/heic, if
            # configured) are taken as claimed.
            mime = sniff(head) or (claimed if claimed and claimed not in EXTENSIONS else "application/octet-stream")
            if too_big or mime not in self.cfg.attachment_types:
                tmp.unlink(missing_ok=True)
                return name, mime, size, None
            ext = EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ".bin"
            final = self.dir / (secrets.token_urlsafe(18) + ext)
            tmp.rename(final)
            return name, mime, size, final
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
