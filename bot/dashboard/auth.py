"""Staff accounts: argon2 password hashes, database sessions, CSRF tokens, login throttling.

- Passwords are hashed with argon2id (argon2-cffi defaults); a hash made with older
  parameters is upgraded at the next successful login.
- A session is a random 256-bit cookie value; the database keeps only its SHA-256, so a
  leaked database does not leak live sessions. Each session has its own CSRF token that
  every form posts back.
- Failed logins are counted per user name and per client address in the database (so
  every worker sees them); past ``staff.login_max_failures`` within
  ``staff.login_window_minutes`` the login is refused without checking the password.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.config import Config
from storage.db import Database
from storage.models.pakn import StaffUser
from storage.repos.pakn import StaffRepo

log = logging.getLogger(__name__)

ROLES = ("admin", "officer")
MIN_PASSWORD = 10


@lru_cache(maxsize=8)
def password_hasher(time_cost: int = 3, memory_kib: int = 65536) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def hasher_for(config: Config | None) -> PasswordHasher:
    if config is None:
        return password_hasher()
    return password_hasher(config.staff.argon2_time_cost, config.staff.argon2_memory_kib)


@lru_cache(maxsize=8)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not a real password, for constant-time misses")


def check_password_strength(password: str) -> str | None:
    """A Vietnamese message when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD:
        return f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự."
    if password.isdigit() or password.isalpha():
        return "Mật khẩu cần có cả chữ và số hoặc ký hiệu."
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginThrottled(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


class LoginFailed(Exception):
    pass


@dataclass(frozen=True)
class StaffSessionInfo:
    user: StaffUser
    csrf_token: str
    token_hash: str


class StaffAuth:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.cfg = config.staff
        self.hasher = hasher_for(config)

    async def login(self, username: str, password: str, client: str, now: datetime) -> tuple[str, StaffUser]:
        """A new session token for valid credentials; raises LoginThrottled / LoginFailed.

        argon2 costs ~0.1 s of CPU by design, so it runs in a thread and between two short
        transactions, never inside one (on SQLite an open transaction holds the write lock):
        the first checks the throttle and records the attempt as a failure — so parallel
        guesses count at once — and reads the account; the second, after the check, takes the
        failure back and opens the session, if the account is unchanged meanwhile."""
        username = username.strip().lower()[:64]
        keys = [f"user:{username}", f"ip:{client}"]
        since = now - timedelta(minutes=self.cfg.login_window_minutes)
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(StaffRepo)
            for key in keys:
                if await repo.failures_since(key, since) >= self.cfg.login_max_failures:
                    log.warning("staff login throttled", extra={"key": key.split(":")[0]})
                    raise LoginThrottled(self.cfg.login_window_minutes)
            attempt_ids = [await repo.record_failure(key, now) for key in keys]
            user = await repo.by_username(username) if username else None
            stored_hash = user.password_hash if user is not None else None
        ok, new_hash = await asyncio.to_thread(self._check, stored_hash, password)
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(StaffRepo)
            current = await repo.user(user.id) if ok and user is not None else None
            if current is None or not current.active or current.password_hash != stored_hash:
                await uow.audit.record(actor="system", action="staff.login_failed", entity_type="staff",
                                       entity_id=username, details={"client": client}, now=now)
                failed = True
            else:
                failed = False
                user = current
                await repo.forget_failures(attempt_ids)
                if new_hash is not None:
                    await repo.update_user(user.id, password_hash=new_hash)
                await repo.clear_failures(keys[0])
                token = secrets.token_urlsafe(32)
                await repo.add_session(token_hash=token_hash(token), user_id=user.id,
                                       csrf_token=secrets.token_urlsafe(32), now=now,
                                       expires_at=now + timedelta(hours=self.cfg.session_hours))
                await uow.audit.record(actor=f"staff:{user.id}", action="staff.login", entity_type="staff",
                                       entity_id=str(user.id), now=now)
        if failed:
            raise LoginFailed()
        return token, user

    def _check(self, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
        """(password matches, a new hash when the stored one uses old parameters). CPU-heavy:
        run in a thread. An unknown user is checked against a dummy hash (same time)."""
        try:
            ok = self.hasher.verify(stored_hash or _dummy_hash(self.hasher), password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if ok and self.hasher.check_needs_rehash(stored_hash):
            return True, self.hasher.hash(password)
        return ok, None

    async def session(self, token: str, now: datetime) -> StaffSessionInfo | None:
        if not token or len(token) > 100:
            return None
        h = token_hash(token)
        async with self.db.unit_of_work() as uow:
            found = await uow.repo(StaffRepo).session_user(h, now)
        if found is None:
            return None
        sess, user = found
        return StaffSessionInfo(user=user, csrf_token=sess.csrf_token, token_hash=h)

    async def logout(self, token: str) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.repo(StaffRepo).end_session(token_hash(token))


async def add_user(db: Database, *, username: str, password: str, role: str, agency_code: str | None,
                   full_name: str, now: datetime, actor: str = "cli",
                   hasher: PasswordHasher | None = None) -> StaffUser:
    """Create a staff account (CLI and the admin page). Raises ValueError with a reason."""
    username = username.strip().lower()
    agency_code = (agency_code or "").strip().upper() or None  # agencies are saved upper-case
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise ValueError("Tên đăng nhập chỉ gồm chữ, số, dấu chấm, gạch (tối đa 64 ký tự).")
    if role not in ROLES:
        raise ValueError("Vai trò phải là admin hoặc officer.")
    if role == "officer" and not agency_code:
        raise ValueError("Cán bộ (officer) phải thuộc một cơ quan.")
    weak = check_password_strength(password)
    if weak:
        raise ValueError(weak)
    # argon2 in a thread and before the transaction (see StaffAuth.login)
    password_hash = await asyncio.to_thread((hasher or password_hasher()).hash, password)
    async with db.unit_of_work() as uow:
        repo = uow.repo(StaffRepo)
        if await repo.by_username(username):
            raise ValueError(f"Tên đăng nhập {username} đã có.")
        if agency_code:
            from storage.repos.pakn import PaknRepo

            if await uow.repo(PaknRepo).agency(agency_code) is None:
                raise ValueError(f"Không có cơ quan mã {agency_code}.")
        user = await repo.add_user(username=username, full_name=full_name.strip()[:200],
                                   password_hash=password_hash, role=role,
                                   agency_code=agency_code or None, active=True, created_at=now,
                                   password_changed_at=now)
        await uow.audit.record(actor=actor, action="staff.user_added", entity_type="staff",
                               entity_id=str(user.id), details={"role": role, "agency": agency_code}, now=now)
    return user
