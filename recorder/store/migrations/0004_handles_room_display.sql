-- 0004_handles_room_display: the room and display name a handle's client
-- used, from its latest plugin message whose body.request is "join" or
-- "joinandconfigure" (videoroom, audiobridge; textroom's joins travel in
-- its data channel, which the tap does not see): body.room and
-- body.display, so that sessions can be found by room and user name.
-- room is the room id as text (a number's digits, or a string id); display
-- compares case-insensitively (ASCII), for prefix searches by index.
-- Handles stored before this migration have neither until a rebuild.
ALTER TABLE handles ADD COLUMN room TEXT;
ALTER TABLE handles ADD COLUMN display TEXT COLLATE NOCASE;
CREATE INDEX handles_room ON handles (room) WHERE room IS NOT NULL;
CREATE INDEX handles_display ON handles (display) WHERE display IS NOT NULL;
