-- Event ids already applied by each consumer: at-least-once delivery, exactly-once effect.
-- processed_at is fixed-width RFC 3339 UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ), ordered as time.
CREATE TABLE processed_events (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
