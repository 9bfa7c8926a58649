"""Dossier status (hồ sơ): codes, statuses, the data sources, lookups and subscriptions.

- ``code``    — dossier codes (TT 01/2018/TT-VPCP Art. 19) parsed from what citizens type;
- ``model``   — the dossier record, its statuses in plain Vietnamese, the "late" rule;
- ``sources`` — where dossiers come from: the local table (CSV/XLSX import) or the
  one-stop system's HTTP API (timeouts, bounded retry, circuit breaker);
- ``importer``— ``tthc-bot dossiers import FILE``;
- ``service`` — lookup with a deadline, ownership proof, throttling, subscriptions and
  the change check that notifies citizens (through the outbox) and publishes events;
- ``feature`` — wiring (``setup(app)``), the scheduled check and the signed webhook.
"""
