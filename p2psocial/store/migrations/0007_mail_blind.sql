-- p2psocial schema version 7: messages sealed blind (docs/protocol.md M16). Local only.
-- Written with IF NOT EXISTS so that applying it twice is harmless.

-- A message of mine sealed to an account whose ops were not held when it was sent (so to the
-- account's own key, which opens it only for a single-key identity). When the account's ops
-- arrive, the message is sealed again to its devices and the row goes; rows older than the
-- writer's delivery window (M18, 7 days) go unanswered.
CREATE TABLE IF NOT EXISTS mail_blind (
    account BLOB    NOT NULL,               -- the recipient account sealed to blind
    conv    BLOB    NOT NULL,               -- the message's conversation (its copy is in inbox)
    msg_id  BLOB    NOT NULL,               -- the message's id (mine: from me)
    since   INTEGER NOT NULL,               -- when it was sent, ms
    PRIMARY KEY (account, msg_id)
) WITHOUT ROWID;
