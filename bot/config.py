"""Configuration: loaded once into one typed object.

Sources, later ones winning:
1. the defaults written in the dataclasses below (the embedded default: SQLite under
   ``var/``, the bundled knowledge base, web chat on 127.0.0.1:8080);
2. a TOML file (``--config PATH``, else ``$TTHC_CONFIG``, else ``./config.toml`` if it
   exists) — see ``config.example.toml`` for every key;
3. environment variables: ``TTHC__SECTION__KEY`` for any key (e.g.
   ``TTHC__TELEGRAM__TOKEN``), plus the short ``TTHC_DATABASE_URL``.

Any problem stops start-up with a :class:`ConfigError` whose message is one line naming
the key and the problem.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "TTHC__"


class ConfigError(Exception):
    """A bad or missing configuration value; ``str(err)`` is the line shown to the operator."""


# --------------------------------------------------------------------------------------
# Sections. A field without a default is required whenever a config file is used.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvinceConfig:
    name: str = "Tỉnh mẫu"  # required in a config file: the province's name as citizens know it
    bot_name: str = "Trợ lý thủ tục hành chính"
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class ContactConfig:
    hotline: str = "1022"
    hotline_label: str = "Tổng đài dịch vụ công"
    email: str = ""
    address: str = ""
    office_hours: str = "Sáng 7h30–11h30, chiều 13h30–17h00, từ thứ Hai đến thứ Sáu"
    portal_url: str = "https://dichvucong.gov.vn"
    privacy_notice_url: str = ""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/tthc-bot.sqlite3"
    echo: bool = False
    pool_size: int = 10
    # Test each pooled connection with a round trip before use. Off by default: it costs a
    # round trip per transaction, and a connection found dead (database restarted) is
    # replaced anyway — the transaction that meets it fails politely, the pool drops every
    # connection older than the failure, and the next one connects afresh.
    pool_pre_ping: bool = False
    pool_recycle_seconds: int = 3600  # replace pooled connections older than this (<= 0: never)


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # the address citizens and platforms reach us at (for links, webhooks)
    max_message_chars: int = 2000
    max_body_bytes: int = 65536
    cookie_secure: bool = False  # set true behind HTTPS
    poll_interval_seconds: int = 5
    # Web chat messages per session (token bucket in each worker process; see README).
    rate_limit_per_minute: float = 60.0
    rate_limit_burst: int = 20


@dataclass(frozen=True)
class ConversationConfig:
    idle_timeout_minutes: int = 30
    # A long form (PAKN) left longer than the idle timeout is offered back ("Tiếp tục soạn")
    # for this long after its last message; later, or 0, it is dropped like any flow.
    resume_within_hours: int = 72


@dataclass(frozen=True)
class OutboxConfig:
    poll_seconds: float = 5.0  # how often each worker looks for due messages
    batch_size: int = 100  # rows claimed at once by one worker
    concurrency: int = 10  # sends in flight at once per worker
    max_attempts: int = 8  # then the message is recorded as failed
    backoff_seconds: float = 30.0  # first retry delay; doubles each attempt (capped at 6 h)
    lease_seconds: int = 300  # a claimed row not finished by then is taken by another worker
    # Proactive messages are not sent between these local times (surveys, notifications);
    # Zalo also refuses messages 22:00–06:00 (error -234; zalo_oa.night_ban_start/end).
    quiet_start: str = "21:00"
    quiet_end: str = "07:00"


@dataclass(frozen=True)
class SurveysConfig:
    enabled: bool = True
    questionnaire: str = ""  # YAML file; empty: the bundled bot/surveys/questionnaires/default.yaml
    delay_minutes: int = 120  # after the case is resolved (then quiet hours push it to morning)
    reminder_hours: int = 24  # one reminder this long after the survey was sent, if unanswered
    expire_days: int = 7  # after the survey was due to be sent, answers are no longer taken
    tick_seconds: float = 60.0  # how often the survey job looks for sent/expired surveys
    # Zalo OA: an approved template (ZNS/ZBS) sent instead when the messaging window is closed.
    zalo_template_id: str = ""


@dataclass(frozen=True)
class ReportsConfig:
    # The report pages (/staff/bao-cao) use the staff dashboard's login and roles.
    # Targets shown next to each figure (percent). Provincial plans (e.g. Đồng Nai 2023):
    # ≥ 93 % satisfied, ≥ 92 % satisfied with PAKN handling, ≥ 96 % PAKN handled on time.
    target_satisfied: float = 93.0
    target_pakn_satisfied: float = 92.0
    target_pakn_on_time: float = 96.0
    target_response_rate: float = 0.0  # 0: no target shown


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram Bot API (python-telegram-bot). See config.example.toml for each key."""

    enabled: bool = False
    token: str = ""  # from @BotFather; put it in TTHC__TELEGRAM__TOKEN
    mode: str = "webhook"  # "webhook" (served by our web server) or "polling"
    webhook_secret: str = ""  # echoed by Telegram in X-Telegram-Bot-Api-Secret-Token
    webhook_path: str = "/webhooks/telegram"
    api_base_url: str = "https://api.telegram.org/bot"  # the token is appended
    file_base_url: str = "https://api.telegram.org/file/bot"
    overall_messages_per_second: float = 30.0  # [V] Telegram's bot-wide limit
    per_chat_messages_per_second: float = 1.0  # [V] about one message a second per chat
    per_chat_burst: int = 3  # a reply of up to this many messages goes out at once
    group_messages_per_minute: float = 20.0  # [V] per group
    max_retries: int = 2  # further tries after a 429, each after its retry_after
    request_timeout_seconds: float = 10.0
    poll_timeout_seconds: int = 25  # long-poll wait of getUpdates (polling mode)


@dataclass(frozen=True)
class ZaloOAConfig:
    """Zalo Official Account, Open API v3. See config.example.toml for each key."""

    enabled: bool = False
    app_id: str = ""  # the Zalo app linked to the OA
    app_secret: str = ""  # the app's secret key: sent when refreshing tokens
    oa_secret_key: str = ""  # the OA secret key: webhook signatures
    access_token: str = ""  # first token pair only; afterwards the database keeps it
    refresh_token: str = ""
    webhook_path: str = "/webhooks/zalo-oa"
    api_base_url: str = "https://openapi.zalo.me"
    oauth_base_url: str = "https://oauth.zaloapp.com"
    template_base_url: str = "https://business.openapi.zalo.me"
    template_path: str = "/message/template"  # [I] ZNS/ZBS template send endpoint
    access_token_lifetime_hours: float = 25.0  # [U] when the token endpoint gives no expires_in
    refresh_token_lifetime_days: int = 90  # [U]
    refresh_early_minutes: int = 60  # refresh this long before the access token expires
    free_window_hours: int = 48  # [U] free consultation replies after the citizen's message
    extended_window_days: int = 7  # [U] replies still possible (limited/paid) up to this
    use_extended_window: bool = True  # treat 48 h–7 d as directly reachable
    template_id: str = ""  # approved template for reaching citizens outside the window
    # [U] error -234 window, local time: proactive sends wait for its end (bot/notify.py)
    night_ban_start: str = "22:00"
    night_ban_end: str = "06:00"
    rate_limit_retry_seconds: int = 60  # wait after error -32 (rate limit)
    max_text_chars: int = 2000  # [U] longest text message
    request_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class ZaloBotConfig:
    """Zalo Bot platform (bot token API). See config.example.toml for each key."""

    enabled: bool = False
    token: str = ""  # from Zalo Bot Manager; put it in TTHC__ZALO_BOT__TOKEN
    mode: str = "webhook"  # "webhook" or "polling" (exclusive on the platform)
    webhook_secret: str = ""  # 8–256 characters, echoed in X-Bot-Api-Secret-Token
    webhook_path: str = "/webhooks/zalo-bot"
    api_base_url: str = "https://bot-api.zaloplatforms.com"
    max_text_chars: int = 2000  # [V] sendMessage text is 1–2,000 characters
    poll_timeout_seconds: int = 30
    request_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class DossiersConfig:
    """Dossier status (hồ sơ) from the province's one-stop system (Một cửa điện tử)."""

    enabled: bool = True
    backend: str = "local"  # "local": table fed by `tthc-bot dossiers import`; "http": the API
    api_base_url: str = ""  # e.g. https://motcua.example.gov.vn/api/v1
    api_auth_header: str = "Authorization"
    api_token: str = ""  # secret: TTHC__DOSSIERS__API_TOKEN (sent as the header's value)
    lookup_deadline_seconds: float = 3.0  # a citizen waits at most this long for the source
    request_timeout_seconds: float = 1.2  # one HTTP attempt
    max_attempts: int = 2  # bounded retry of one lookup
    retry_backoff_seconds: float = 0.2  # doubled after each failed attempt
    breaker_failures: int = 5  # consecutive failures that open the circuit breaker
    breaker_reset_seconds: float = 30.0  # how long it stays open before one trial call
    code_example: str = "000.00.01.H50-250101-0001"
    proof_valid_days: int = 30  # a proven ownership is remembered this long
    proof_max_failures_per_citizen: int = 5  # wrong answers per citizen in proof_window
    proof_max_failures_per_dossier: int = 10  # wrong answers on one dossier, all citizens
    proof_window_minutes: int = 1440
    lookup_max_per_hour: int = 30  # lookups per citizen per hour
    lookup_max_misses_per_hour: int = 8  # lookups of codes that do not exist (guessing)
    check_interval_seconds: int = 600  # how often followed dossiers are checked
    check_batch: int = 200  # dossiers checked per run
    webhook_path: str = "/hooks/dossiers"
    webhook_secret: str = ""  # secret: TTHC__DOSSIERS__WEBHOOK_SECRET; empty = webhook off
    webhook_max_skew_seconds: int = 300
    # Key of the applicants' ID-number fingerprints (HMAC-SHA256). Secret:
    # TTHC__DOSSIERS__ID_HASH_KEY. Empty: read from id_hash_key_file, created there (random,
    # mode 0600) at the first start. Keep it (and back it up) out of the database.
    id_hash_key: str = ""
    id_hash_key_file: str = "var/id-hash.key"


EVENT_LOOPS = ("auto", "asyncio", "uvloop")


@dataclass(frozen=True)
class OpsConfig:
    """Running several workers, load shedding and metrics (bot/ops)."""

    workers: int = 1  # processes `tthc-bot run` starts (PostgreSQL only above 1); --workers wins
    max_inflight_requests: int = 512  # per worker; more at once get a polite 503
    metrics_enabled: bool = True  # GET /metrics (Prometheus text format)
    metrics_token: str = ""  # secret: when set, /metrics wants "Authorization: Bearer <token>"
    restart_backoff_seconds: float = 1.0  # the supervisor restarts a dead worker after this
    # `tthc-bot run`'s event loop: "auto" = uvloop on PostgreSQL when installed (about 6 %
    # more messages per CPU-second), asyncio on SQLite (aiosqlite's thread hands its results
    # to uvloop slowly); "asyncio" or "uvloop" to force one.
    event_loop: str = "auto"


@dataclass(frozen=True)
class PrivacyConfig:
    """Personal-data retention and the citizen's erasure request (bot/retention.py)."""

    # Conversations (message log, conversation state, handled platform updates, sent
    # outbox messages) older than this are deleted by `tthc-bot privacy purge` and the
    # daily job. [I] No legal period is fixed for chatbot logs; the Law on Personal Data
    # Protection 91/2025/QH15 requires keeping data no longer than needed — set it
    # with the province's data-protection officer.
    retention_days: int = 365
    # Proven dossier ownership and throttling counters are personal too; kept shorter.
    ownership_retention_days: int = 90
    purge_interval_hours: float = 24.0  # how often each deployment runs the purge; 0 = never
    erase_enabled: bool = True  # the citizen's "xóa dữ liệu của tôi" request


@dataclass(frozen=True)
class KbConfig:
    """The procedure lookup conversation (the knowledge base itself lives in the database)."""

    # Fields offered for browsing ("Xem theo lĩnh vực", and when a search finds nothing), in
    # this order; names as in the knowledge base, compared without accents or case. Fields the
    # knowledge base does not have are left out; an empty list offers the largest fields.
    browse_fields: tuple[str, ...] = (
        "Hộ tịch", "Đăng ký, quản lý cư trú", "Cấp, quản lý căn cước", "Chứng thực", "Đất đai",
        "Hoạt động xây dựng", "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)",
        "Đăng ký, quản lý phương tiện giao thông cơ giới, xe máy chuyên dùng",
        "Sát hạch, cấp giấy phép lái xe", "Thực hiện chính sách BHXH",
    )
    browse_page_size: int = 8  # procedures per page when browsing a field


@dataclass(frozen=True)
class CalendarConfig:
    """Working days for legal deadlines (bot/workdays.py). Public holidays come from the
    ``holidays`` package; the government decides Tết bridges and make-up Saturdays each
    year, so they are configured here ([I]: check the yearly notice of the Ministry of
    Home Affairs)."""

    country: str = "VN"
    extra_days_off: tuple[str, ...] = ()  # ISO dates, e.g. "2027-02-11"
    extra_working_days: tuple[str, ...] = ()  # ISO dates of weekend days worked in exchange
    cutoff_hour: int = 17  # a submission after this local time counts from the next working day
    cutoff_minute: int = 0


@dataclass(frozen=True)
class PaknConfig:
    """Feedback and recommendations (phản ánh, kiến nghị — Decree 20/2008/NĐ-CP)."""

    # Deadlines in working days. National PAKN system practice [U]: accept or reject <= 2,
    # forward outside one's competence <= 5 (ND 20/2008 Art. 14 [V]), answer <= 15,
    # publish <= 2 after answering (TT 02/2017/TT-VPCP [V, via summary]).
    accept_days: int = 2
    forward_days: int = 5
    answer_days: int = 15
    publish_days: int = 2
    due_soon_days: int = 1  # "due soon" at this many working days left (reminders, colours)
    # TT 02/2017/TT-VPCP: while a PAKN is unanswered the sender hears how it stands every
    # 7 days [V, via summary]. 0 turns the progress messages off.
    progress_update_days: int = 7
    # Working days spent waiting for information the staff asked the citizen for do not
    # count toward the item's deadlines (common practice for one-stop deadlines [U]).
    pause_while_waiting: bool = True
    content_min_chars: int = 20
    content_max_chars: int = 2000
    max_attachments: int = 5
    max_attachment_bytes: int = 10_000_000
    # Electronic PAKN may carry attachments in the formats the system allows (ND 92/2017).
    attachment_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "application/pdf")
    duplicate_days: int = 3  # near-identical content from the same sender this recent is a duplicate
    duplicate_similarity: int = 90  # 0-100 (rapidfuzz token-set ratio on folded text)
    # Khiếu nại / tố cáo are not PAKN (ND 20/2008 Art. 1, 5): where to send the citizen.
    complaint_info: str = (
        "Khiếu nại, tố cáo được giải quyết theo Luật Khiếu nại 2011 và Luật Tố cáo 2018, không "
        "qua kênh phản ánh, kiến nghị. Vui lòng gửi đơn đến Ban Tiếp công dân hoặc Thanh tra tỉnh, "
        "hoặc đến trực tiếp cơ quan có thẩm quyền giải quyết.")
    complaint_url: str = ""
    code_prefix: str = "PAKN"
    upload_dir: str = "var/uploads"  # web-chat attachments (served to staff only)


@dataclass(frozen=True)
class StaffConfig:
    """The staff dashboard (/staff) and the optional staff Telegram group."""

    session_hours: int = 10
    login_max_failures: int = 5  # failed logins per user name or address ...
    login_window_minutes: int = 15  # ... within this window, then refused until it passes
    # Behind a reverse proxy, the header it puts the client address in ("X-Forwarded-For":
    # its last entry is used, the one our proxy added; or "X-Real-IP"). Empty: the peer address.
    client_ip_header: str = ""
    page_size: int = 50
    # argon2id cost (RFC 9106 "second recommended option" by default: t=3, 64 MiB, ~0.2 s);
    # lower only on very small machines. Existing hashes are upgraded at the next login.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    telegram_token: str = ""  # secret: TTHC__STAFF__TELEGRAM_TOKEN (a bot in the staff group)
    telegram_chat_id: str = ""  # the staff group's chat id; empty = no group notifications
    telegram_api_url: str = "https://api.telegram.org"
    reminder_interval_seconds: int = 900
    # A group notice not sent (refused, network error, worker stopped) is tried again at the
    # reminder runs, this many attempts in all; then it is given up (logged).
    notice_max_attempts: int = 8


@dataclass(frozen=True)
class Config:
    province: ProvinceConfig = field(default_factory=ProvinceConfig)
    contact: ContactConfig = field(default_factory=ContactConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    web: WebConfig = field(default_factory=WebConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    surveys: SurveysConfig = field(default_factory=SurveysConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    zalo_oa: ZaloOAConfig = field(default_factory=ZaloOAConfig)
    zalo_bot: ZaloBotConfig = field(default_factory=ZaloBotConfig)
    dossiers: DossiersConfig = field(default_factory=DossiersConfig)
    ops: OpsConfig = field(default_factory=OpsConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    kb: KbConfig = field(default_factory=KbConfig)
    pakn: PaknConfig = field(default_factory=PaknConfig)
    staff: StaffConfig = field(default_factory=StaffConfig)
    source: str = "embedded defaults"  # where it was loaded from (not a TOML key)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.province.timezone)

    def with_database(self, url: str) -> "Config":
        return replace(self, database=replace(self.database, url=url))


# Keys a config *file* must set (the embedded defaults are for trying the bot out only).
REQUIRED_IN_FILE = ("province.name",)
# Keys that existed once: a clear reason instead of "unknown key" when an old file still has them.
REMOVED_KEYS = {
    "reports.access_token": "removed — the report pages (/staff/bao-cao) use the staff login now; "
                            "delete the key (and TTHC__REPORTS__ACCESS_TOKEN)",
}

_SKIP = {"source"}


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def default_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if env.get("TTHC_CONFIG"):
        return Path(env["TTHC_CONFIG"])
    local = Path("config.toml")
    return local if local.exists() else None


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration; raises ConfigError with one clear line."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = "embedded defaults"
    if path is None:
        path = default_config_path(env)
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        for dotted in REQUIRED_IN_FILE:
            section, key = dotted.split(".")
            if not isinstance(data.get(section), dict) or key not in data[section]:
                raise ConfigError(f"{p}: {dotted}: required key is missing")
    _apply_env(data, env)
    try:
        cfg = _build(Config, data, prefix="")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    cfg = replace(cfg, source=source)
    try:
        validate(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    if env.get("TTHC_DATABASE_URL"):
        data.setdefault("database", {})["url"] = env["TTHC_DATABASE_URL"]
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if len(parts) < 2:
            continue
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = _EnvValue(value, name)


@dataclass(frozen=True)
class _EnvValue:
    """A string from the environment, converted to the field's type when the schema is known."""

    raw: str
    name: str


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.name not in _SKIP}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: {REMOVED_KEYS.get(prefix + key, 'unknown key')}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in _SKIP or f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING and f.name not in _SKIP:
                raise ConfigError(f"{prefix}{f.name}: required key is missing")
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{prefix}{f.name}")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, key: str) -> Any:
    if is_dataclass(tp):
        if isinstance(value, _EnvValue):
            raise ConfigError(f"{key}: is a table, cannot be set from {value.name}")
        return _build(tp, value, prefix=f"{key}.")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, _EnvValue) and value.raw == ""):
            return None
        return _convert(non_none[0], value, key)
    if origin in (list, tuple):
        item = args[0] if args else str
        if isinstance(value, _EnvValue):
            value = [v.strip() for v in value.raw.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_show(value)}")
        out = [_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if isinstance(value, _EnvValue):
        return _from_env(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_show(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_show(value)}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {tp!r}")  # pragma: no cover


def _from_env(tp: Any, value: _EnvValue, key: str) -> Any:
    raw = value.raw.strip()
    try:
        if tp is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            return int(raw)
        if tp is float:
            return float(raw)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[tp]
        raise ConfigError(f"{key}: expected {kind} in {value.name}, got {raw!r}") from None
    return value.raw


def _show(value: Any) -> str:
    kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}" if not isinstance(value, (list, dict)) else kind


# --------------------------------------------------------------------------------------
# Validation of values (beyond types)
# --------------------------------------------------------------------------------------


def validate(cfg: Config) -> None:
    from storage.db import InvalidDatabaseURL, normalize_url

    if not cfg.province.name.strip():
        raise ConfigError("province.name: must not be empty")
    try:
        ZoneInfo(cfg.province.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"province.timezone: unknown time zone {cfg.province.timezone!r}") from None
    try:
        normalize_url(cfg.database.url)
    except InvalidDatabaseURL as exc:
        raise ConfigError(f"database.url: {exc}") from None
    if not 1 <= cfg.web.port <= 65535:
        raise ConfigError(f"web.port: must be between 1 and 65535, got {cfg.web.port}")
    if cfg.web.max_message_chars < 1:
        raise ConfigError("web.max_message_chars: must be at least 1")
    if cfg.web.max_body_bytes < 1024:
        raise ConfigError("web.max_body_bytes: must be at least 1024")
    if cfg.conversation.idle_timeout_minutes < 1:
        raise ConfigError("conversation.idle_timeout_minutes: must be at least 1")
    if cfg.conversation.resume_within_hours < 0:
        raise ConfigError("conversation.resume_within_hours: must be 0 (never) or more")
    if not 1 <= cfg.kb.browse_page_size <= 20:
        raise ConfigError("kb.browse_page_size: must be between 1 and 20")
    _validate_dossiers(cfg.dossiers)
    _validate_ops(cfg)
    _validate_calendar(cfg.calendar)
    _validate_pakn(cfg.pakn)
    _validate_staff(cfg.staff)
    for key in ("quiet_start", "quiet_end"):
        value = getattr(cfg.outbox, key)
        if parse_hhmm(value) is None:
            raise ConfigError(f"outbox.{key}: expected a time like 21:00, got {value!r}")
    if cfg.outbox.batch_size < 1 or cfg.outbox.concurrency < 1 or cfg.outbox.max_attempts < 1:
        raise ConfigError("outbox: batch_size, concurrency and max_attempts must be at least 1")
    if cfg.outbox.poll_seconds <= 0 or cfg.outbox.lease_seconds < 10:
        raise ConfigError("outbox: poll_seconds must be positive and lease_seconds at least 10")
    sv = cfg.surveys
    if sv.delay_minutes < 0 or sv.reminder_hours < 1 or sv.expire_days < 1 or sv.tick_seconds <= 0:
        raise ConfigError("surveys: delay_minutes must be ≥ 0, reminder_hours and expire_days ≥ 1, "
                          "tick_seconds positive")
    if sv.reminder_hours >= sv.expire_days * 24:
        raise ConfigError("surveys.reminder_hours: must be shorter than expire_days")
    if sv.questionnaire:
        from bot.surveys.questionnaire import QuestionnaireError, load_questionnaire

        try:
            load_questionnaire(sv.questionnaire)
        except QuestionnaireError as exc:
            raise ConfigError(f"surveys.questionnaire: {exc}") from None
    for name in ("target_satisfied", "target_pakn_satisfied", "target_pakn_on_time",
                 "target_response_rate"):
        if not 0 <= getattr(cfg.reports, name) <= 100:
            raise ConfigError(f"reports.{name}: a percentage between 0 and 100")
    if cfg.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"logging.level: unknown level {cfg.logging.level!r}")
    _validate_channels(cfg)


def _validate_channels(cfg: Config) -> None:
    """Shapes of the platform settings. Missing credentials are not an error here: the
    channel is reported and left off at start-up while the rest keeps running."""
    import re

    for section in ("telegram", "zalo_bot"):
        c = getattr(cfg, section)
        if c.mode not in ("webhook", "polling"):
            raise ConfigError(f"{section}.mode: must be \"webhook\" or \"polling\", got {c.mode!r}")
        if c.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{8,256}", c.webhook_secret):
            raise ConfigError(f"{section}.webhook_secret: 8–256 characters of A-Z, a-z, 0-9, _ and -")
    for section in ("telegram", "zalo_oa", "zalo_bot"):
        c = getattr(cfg, section)
        if not c.webhook_path.startswith("/"):
            raise ConfigError(f"{section}.webhook_path: must start with /")
        for key in ("api_base_url", "oauth_base_url", "template_base_url", "file_base_url"):
            url = getattr(c, key, None)
            if url is not None and not url.startswith(("https://", "http://")):
                raise ConfigError(f"{section}.{key}: must be an http(s) URL, got {url!r}")
        if c.request_timeout_seconds <= 0:
            raise ConfigError(f"{section}.request_timeout_seconds: must be positive")
    t = cfg.telegram
    if t.overall_messages_per_second <= 0 or t.per_chat_messages_per_second <= 0 \
            or t.group_messages_per_minute <= 0 or t.per_chat_burst < 1:
        raise ConfigError("telegram: rate limits must be positive")
    if t.max_retries < 0:
        raise ConfigError("telegram.max_retries: must be 0 or more")
    z = cfg.zalo_oa
    for key in ("night_ban_start", "night_ban_end"):
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", getattr(z, key)):
            raise ConfigError(f"zalo_oa.{key}: expected HH:MM, got {getattr(z, key)!r}")
    if z.free_window_hours < 1 or z.extended_window_days * 24 < z.free_window_hours:
        raise ConfigError("zalo_oa: free_window_hours must be ≥ 1 and within extended_window_days")
    if z.access_token_lifetime_hours <= 0 or z.refresh_early_minutes < 0:
        raise ConfigError("zalo_oa: token lifetimes must be positive")
    if z.refresh_early_minutes >= z.access_token_lifetime_hours * 60:
        raise ConfigError("zalo_oa.refresh_early_minutes: must be shorter than the token lifetime")
    for section in ("zalo_oa", "zalo_bot"):
        if getattr(cfg, section).max_text_chars < 100:
            raise ConfigError(f"{section}.max_text_chars: must be at least 100")


def _validate_ops(cfg: Config) -> None:
    if cfg.web.rate_limit_per_minute <= 0 or cfg.web.rate_limit_burst < 1:
        raise ConfigError("web.rate_limit_per_minute must be positive and web.rate_limit_burst at least 1")
    o = cfg.ops
    if not 1 <= o.workers <= 64:
        raise ConfigError(f"ops.workers: must be between 1 and 64, got {o.workers}")
    if o.workers > 1 and cfg.database.url.strip().lower().startswith("sqlite"):
        raise ConfigError("ops.workers: several workers need PostgreSQL (SQLite serves one process); "
                          "set database.url to postgresql://... or ops.workers = 1")
    if o.max_inflight_requests < 1:
        raise ConfigError("ops.max_inflight_requests: must be at least 1")
    if o.restart_backoff_seconds < 0:
        raise ConfigError("ops.restart_backoff_seconds: must be 0 or more")
    if o.event_loop not in EVENT_LOOPS:
        raise ConfigError(f"ops.event_loop: must be one of {', '.join(EVENT_LOOPS)}, got {o.event_loop!r}")
    p = cfg.privacy
    if p.retention_days < 1 or p.ownership_retention_days < 1:
        raise ConfigError("privacy: retention_days and ownership_retention_days must be at least 1")
    if p.purge_interval_hours < 0:
        raise ConfigError("privacy.purge_interval_hours: must be 0 (off) or more")


def _validate_dossiers(d: DossiersConfig) -> None:
    if d.backend not in ("local", "http"):
        raise ConfigError(f"dossiers.backend: must be \"local\" or \"http\", got {d.backend!r}")
    if d.enabled and d.backend == "http" and not d.api_base_url.startswith(("http://", "https://")):
        raise ConfigError("dossiers.api_base_url: required (http:// or https://) when dossiers.backend = \"http\"")
    if not 0.5 <= d.lookup_deadline_seconds <= 10:
        raise ConfigError("dossiers.lookup_deadline_seconds: must be between 0.5 and 10")
    if not 0 < d.request_timeout_seconds <= d.lookup_deadline_seconds:
        raise ConfigError("dossiers.request_timeout_seconds: must be positive and at most lookup_deadline_seconds")
    if not 1 <= d.max_attempts <= 5:
        raise ConfigError("dossiers.max_attempts: must be between 1 and 5")
    if d.retry_backoff_seconds < 0 or d.breaker_reset_seconds <= 0 or d.breaker_failures < 1:
        raise ConfigError("dossiers: retry_backoff_seconds >= 0, breaker_reset_seconds > 0, breaker_failures >= 1")
    for name in ("proof_valid_days", "proof_max_failures_per_citizen", "proof_max_failures_per_dossier",
                 "proof_window_minutes", "lookup_max_per_hour", "lookup_max_misses_per_hour",
                 "check_batch"):
        if getattr(d, name) < 1:
            raise ConfigError(f"dossiers.{name}: must be at least 1")
    if d.check_interval_seconds < 10:
        raise ConfigError("dossiers.check_interval_seconds: must be at least 10")
    if not d.webhook_path.startswith("/"):
        raise ConfigError("dossiers.webhook_path: must start with /")
    if d.webhook_secret and len(d.webhook_secret) < 16:
        raise ConfigError("dossiers.webhook_secret: too short (at least 16 characters)")
    if d.id_hash_key and len(d.id_hash_key) < 16:
        raise ConfigError("dossiers.id_hash_key: too short (at least 16 characters; 32+ random ones are better)")
    if not d.id_hash_key and not d.id_hash_key_file.strip():
        raise ConfigError("dossiers.id_hash_key_file: empty (set dossiers.id_hash_key or a file for it)")
    from bot.dossiers.code import InvalidCode, parse_code

    try:
        parse_code(d.code_example)
    except InvalidCode:
        raise ConfigError(f"dossiers.code_example: not a valid dossier code: {d.code_example!r}") from None


def _validate_calendar(c: CalendarConfig) -> None:
    import holidays
    from datetime import date

    if c.country not in holidays.list_supported_countries():
        raise ConfigError(f"calendar.country: unknown country code {c.country!r}")
    for key in ("extra_days_off", "extra_working_days"):
        for value in getattr(c, key):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"calendar.{key}: {value!r} is not a date (YYYY-MM-DD)") from None
    if set(c.extra_days_off) & set(c.extra_working_days):
        raise ConfigError("calendar: a date is both in extra_days_off and extra_working_days")
    if not 0 <= c.cutoff_hour <= 23 or not 0 <= c.cutoff_minute <= 59:
        raise ConfigError("calendar.cutoff_hour/cutoff_minute: not a time of day")


def _validate_pakn(p: PaknConfig) -> None:
    for key in ("accept_days", "forward_days", "answer_days", "publish_days"):
        if not 1 <= getattr(p, key) <= 90:
            raise ConfigError(f"pakn.{key}: must be between 1 and 90 working days")
    if p.due_soon_days < 0:
        raise ConfigError("pakn.due_soon_days: must not be negative")
    if not 1 <= p.content_min_chars < p.content_max_chars:
        raise ConfigError("pakn.content_min_chars: must be at least 1 and below content_max_chars")
    if not 0 <= p.max_attachments <= 20:
        raise ConfigError("pakn.max_attachments: must be between 0 and 20")
    if p.max_attachment_bytes < 1024:
        raise ConfigError("pakn.max_attachment_bytes: must be at least 1024")
    if any("/" not in t for t in p.attachment_types):
        raise ConfigError("pakn.attachment_types: each entry must be a MIME type like image/jpeg")
    if not 50 <= p.duplicate_similarity <= 100:
        raise ConfigError("pakn.duplicate_similarity: must be between 50 and 100")
    if p.duplicate_days < 0:
        raise ConfigError("pakn.duplicate_days: must not be negative")
    if not p.code_prefix.isalnum() or len(p.code_prefix) > 8:
        raise ConfigError("pakn.code_prefix: letters and digits only, at most 8")
    if not p.upload_dir.strip():
        raise ConfigError("pakn.upload_dir: must not be empty")


def _validate_staff(s: StaffConfig) -> None:
    if not 1 <= s.session_hours <= 24 * 7:
        raise ConfigError("staff.session_hours: must be between 1 and 168")
    if s.login_max_failures < 1 or s.login_window_minutes < 1:
        raise ConfigError("staff.login_max_failures/login_window_minutes: must be at least 1")
    if s.argon2_time_cost < 1 or s.argon2_memory_kib < 8192:
        raise ConfigError("staff.argon2_time_cost must be at least 1 and argon2_memory_kib at least 8192")
    if not 5 <= s.page_size <= 500:
        raise ConfigError("staff.page_size: must be between 5 and 500")
    if bool(s.telegram_token) != bool(s.telegram_chat_id):
        raise ConfigError("staff.telegram_token and staff.telegram_chat_id: set both or neither")
    if s.reminder_interval_seconds < 30:
        raise ConfigError("staff.reminder_interval_seconds: must be at least 30")
    if s.notice_max_attempts < 1:
        raise ConfigError("staff.notice_max_attempts: must be at least 1")


def parse_hhmm(value: str) -> "time | None":
    """'21:00' -> time(21, 0); None when it is not a valid HH:MM."""
    from datetime import time

    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        return None
