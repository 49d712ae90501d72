"""The gateway's web pages for people: GOV.UK Design System pages (Jinja templates with the
govuk-frontend macros) that sign people in with a password and a server-side session, show each
role its own part of a place, and send every form through the API's own command path.

Nothing is imported here, so that `users` can use `web.passwords` and `web.store` without
loading the pages; `web.routes.install` mounts the pages on the gateway's app."""
