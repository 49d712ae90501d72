-- A webhook's signing secret is shown once and kept only where delivery needs it
-- (webhook_subscriptions.secret): remove it from answers stored for idempotent replay.
UPDATE command_log
SET response_body = response_body
    || jsonb_build_object(
        'secret', NULL,
        'secret_shown', 'the signing secret is shown once, in the first answer; a repeat of the '
            'request does not show it again: deactivate this subscription and create another '
            'for a new secret')
WHERE event_type = 'SubscribeWebhook' AND response_body ? 'secret';
