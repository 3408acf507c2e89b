-- Conversations (issue 17): state kept per conversation (a channel's topic, or the
-- people of a direct message) for listeners that step through one (`in_state`,
-- `next_state`, `remember`) and for handlers (`cx.conversation()`). `data` is a JSON
-- object of remembered values. A conversation silent for the pipeline's
-- `conversation_timeout` is over; its row is removed when next touched.
CREATE TABLE zlc_conversations (
    pipeline     TEXT NOT NULL,
    realm        BIGINT NOT NULL,
    conversation TEXT NOT NULL,
    state        TEXT,
    data         TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (pipeline, realm, conversation)
);
