"""The migration that keeps staff notices until sent: the rows recorded before it were sent."""

from __future__ import annotations

import sqlite3

from storage.migrate import upgrade


def test_notices_recorded_before_the_migration_count_as_sent(tmp_path):
    path = tmp_path / "old.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url, "0200_pakn")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO pakn_items (id, code, kind, subject, content, content_key, full_name, phone, "
            "citizen_id, channel, state, created_at, updated_at, received_on, accept_due, forward_due, "
            "answer_due) VALUES (1, 'PAKN-2611-AAAA', 'phan_anh', 'other', 'x', 'x', '', '', 1, 'memory', "
            "'new', '2026-11-02 02:00:00.000000+00:00', '2026-11-02 02:00:00.000000+00:00', '2026-11-02', "
            "'2026-11-04', '2026-11-09', '2026-11-23')")
        db.execute("INSERT INTO pakn_notices (item_id, notice, at, details) "
                   "VALUES (1, 'new', '2026-11-02 02:00:01.000000+00:00', '{}')")
    upgrade(url)
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT at, sent_at, attempts, gave_up_at FROM pakn_notices").fetchone()
    assert row == ("2026-11-02 02:00:01.000000+00:00", "2026-11-02 02:00:01.000000+00:00", 1, None)
