-- Named queries of the identity room: principals, grants, tokens, web passwords and sessions.

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

-- name: upsert_principal
INSERT INTO principals (principal_id, kind, display_name) VALUES ($1, $2, $3)
ON CONFLICT (principal_id) DO UPDATE SET display_name = EXCLUDED.display_name;

-- name: add_grant
INSERT INTO grants (principal_id, role, place_id, subject_id) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: grants_of
SELECT role, place_id, subject_id FROM grants WHERE principal_id = $1
ORDER BY role, place_id, subject_id;

-- name: insert_token
INSERT INTO tokens (token_id, principal_id, token_hash, description, expires_at)
VALUES ($1, $2, $3, $4, $5);

-- name: token_by_hash
SELECT t.token_id, t.principal_id, t.expires_at, t.revoked_at,
       coalesce((SELECT json_agg(json_build_array(g.role, g.place_id, g.subject_id))
                 FROM grants g WHERE g.principal_id = t.principal_id), '[]')::text AS grants
FROM tokens t WHERE t.token_hash = $1;

-- name: revoke_token
UPDATE tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL
RETURNING token_id;

-- name: revoke_tokens_of
UPDATE tokens SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL
RETURNING token_id;

-- name: list_principals
SELECT p.principal_id, p.kind, p.display_name, p.created_at,
       coalesce((SELECT array_agg(g.role || '@' || g.place_id
                                  || CASE WHEN g.subject_id = '' THEN '' ELSE ':' || g.subject_id END
                                  ORDER BY g.role, g.place_id)
                 FROM grants g WHERE g.principal_id = p.principal_id), '{}') AS grants,
       (SELECT count(*) FROM tokens t WHERE t.principal_id = p.principal_id
          AND t.revoked_at IS NULL AND t.expires_at > now()) AS live_tokens
FROM principals p ORDER BY p.principal_id;

-- name: tokens_of
SELECT token_id, description, created_at, expires_at, revoked_at FROM tokens
WHERE principal_id = $1 ORDER BY created_at;
