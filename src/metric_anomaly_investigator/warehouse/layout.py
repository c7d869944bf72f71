"""Names of the warehouse layout shared by the generator (which writes it) and the reader.

The tables and reserved columns of the contract, and the rollups stored beside the events: a
per-user-per-day rollup (``ROLLUP_TABLE``) and a per-user-day-event-type one
(``TYPE_ROLLUP_TABLE``), described by the key/value table ``META_TABLE``.
"""

from __future__ import annotations

TABLES = ("events", "users", "deployments", "annotations")
EVENT_RESERVED = frozenset({"user_id", "event_timestamp", "session_id", "event_type"})
USER_RESERVED = frozenset({"user_id", "signup_date"})
ROLLUP_TABLE = "_mai_user_day"
TYPE_ROLLUP_TABLE = "_mai_user_day_type"
META_TABLE = "_mai_meta"
ROLLUP_VERSION = "1"
# rollup columns: days from a row to the user's next row (capped at WAU_DAYS), among all the
# user's rows (SPAN_USER) or among those with the same dimension values (SPAN_COMBO)
SPAN_USER = "_mai_span_user"
SPAN_COMBO = "_mai_span_combo"
DEPLOYED_RAW = "_mai_deployed_at_raw"  # deployments: deployed_at as given, for reports
