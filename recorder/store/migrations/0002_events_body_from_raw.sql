-- 0002_events_body_from_raw: each row of events is lighter to write. The
-- body was kept twice, in body and inside raw (the encoded event), which
-- holds it exactly: queries now take it from raw. The indexes on plugin and
-- janus served no query, and cost a B-tree write per event.
DROP INDEX events_plugin;
DROP INDEX events_janus;
ALTER TABLE events DROP COLUMN body;
