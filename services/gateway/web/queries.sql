-- Named queries of the web pages: passwords, sessions, and the list of places shown on the
-- start page. The read models themselves are read through services/gateway/views.py.

-- name: set_password
INSERT INTO web_passwords (principal_id, password_hash)
VALUES ($1, $2)
ON CONFLICT (principal_id) DO UPDATE
SET password_hash = EXCLUDED.password_hash, updated_at = now();

-- name: password_hash_of
SELECT password_hash FROM web_passwords WHERE principal_id = $1;

-- name: principal_exists
SELECT EXISTS (SELECT 1 FROM principals WHERE principal_id = $1);

-- name: insert_session
INSERT INTO web_sessions (session_hash, principal_id, expires_at) VALUES ($1, $2, $3);

-- name: live_session
SELECT principal_id, expires_at
FROM web_sessions
WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > now();

-- name: end_session
UPDATE web_sessions SET ended_at = now() WHERE session_hash = $1 AND ended_at IS NULL;

-- name: end_sessions_of
UPDATE web_sessions SET ended_at = now() WHERE principal_id = $1 AND ended_at IS NULL;

-- name: delete_expired_sessions
DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day';

-- name: known_places
SELECT place_id FROM pot_streams
UNION
SELECT place_id FROM allocations
ORDER BY place_id;
