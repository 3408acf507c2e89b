-- Which message answered which (issue 17, edits). A listener that follows edits or
-- deletions keeps, on the row of each message it posted, the message it answered
-- (trigger_id) and its answer (reply_id): an edit of the trigger updates that answer,
-- a deletion of the trigger deletes it. NULL in every other row.
ALTER TABLE zlc_effects ADD COLUMN trigger_id BIGINT;
ALTER TABLE zlc_effects ADD COLUMN reply_id BIGINT;
CREATE INDEX zlc_effects_replies ON zlc_effects (pipeline, trigger_id) WHERE reply_id IS NOT NULL;
