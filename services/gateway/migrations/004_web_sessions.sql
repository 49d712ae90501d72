-- Web sign-in: password hashes of people who use the web pages, and their server-side sessions.

-- One password per principal, stored only as a salted scrypt hash ("scrypt$n$r$p$salt$hash").
CREATE TABLE web_passwords (
    principal_id   text        PRIMARY KEY REFERENCES principals ON DELETE CASCADE,
    password_hash  text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A signed-in browser: the cookie holds a random session id, only its SHA-256 is stored here.
CREATE TABLE web_sessions (
    session_hash  bytea       PRIMARY KEY,
    principal_id  text        NOT NULL REFERENCES principals ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz
);
CREATE INDEX web_sessions_by_principal ON web_sessions (principal_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
