"""Triggers and the scheduler (docs/triggers.md): when workflows run without anyone pressing Run.

`timing` (cron and interval fire times), `checks` (validation), `registry` (the enabled
workflows), `scheduler` (the long-lived process) and its sources: `filewatch`, `webhooks`.
"""
