"""Identity and permissions: who is calling (tokens, web sessions and passwords), what each
role may do at each door (the permission table), the principals and their grants, and the
security headers on every answer. The room every other room stands on."""
