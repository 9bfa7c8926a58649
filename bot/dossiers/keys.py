"""The secret key of the applicants' ID-number fingerprints (``bot.dossiers.model``).

``dossiers.id_hash_key`` (better: ``TTHC__DOSSIERS__ID_HASH_KEY``) when set; otherwise the
file ``dossiers.id_hash_key_file`` (default ``var/id-hash.key``), created with a random key
(mode 0600) when missing — so ``make run`` needs nothing, and the key never sits in the
database it protects. Every process that reads or writes dossiers must use the same key:
workers on one host share the file; on several hosts set the key in the environment.
A lost key makes the stored fingerprints useless (citizens can still prove ownership with
the phone digits); re-importing the one-stop system's export stores new ones.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bot.config import Config, ConfigError
from bot.dossiers.model import use_id_hash_key

log = logging.getLogger(__name__)


def load_id_hash_key(config: Config) -> bytes:
    cfg = config.dossiers
    if cfg.id_hash_key:
        return cfg.id_hash_key.encode()
    path = Path(cfg.id_hash_key_file)
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # written whole under another name, then linked into place: a worker starting at
            # the same moment either creates it first or reads the complete file
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            try:
                os.link(tmp, path)
                log.warning("ID hash key generated: keep and back up this file, or set dossiers.id_hash_key",
                            extra={"file": str(path)})
            except FileExistsError:
                pass  # another worker was first: use its key
            finally:
                tmp.unlink()
        except OSError as exc:
            raise ConfigError(f"dossiers.id_hash_key_file: cannot create {path}: {exc.strerror}") from None
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"dossiers.id_hash_key_file: cannot read {path}: {exc}") from None
    if len(key) < 16:
        raise ConfigError(f"dossiers.id_hash_key_file: {path} holds no key (at least 16 characters)")
    return key.encode()


def configure(config: Config) -> None:
    """Load the key and use it for this process's fingerprints."""
    use_id_hash_key(load_id_hash_key(config))
