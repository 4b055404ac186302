"""Notify: render alerts, route them to destinations, send each exactly once.

Senders (console, Telegram through aiogram, Slack webhooks) translate their library's errors into
`notify.errors` at the boundary; `Dispatcher` applies retries and the delivery log.
"""
