"""Errors raised by notify senders.

SendError
├── RetryLater         transient (429, 5xx, connection refused): try again, after `retry_after`
│   └── MaybeSent      the request timed out: it may have been delivered; retried, but late
└── PermanentFailure   the destination refuses this message for good (400, bad webhook)
    ├── ChatGone       the chat itself is gone for the bot (403: blocked, kicked, deleted):
    │                  every pending message to it fails and its subscription is deactivated
    └── ChatMoved      a group became a supergroup with a new id: everything owed moves there
"""


class SendError(Exception):
    """Root of every error a sender raises; `destination` names where it was going."""

    retriable = False

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"{destination}: {reason}")
        self.destination = destination
        self.reason = reason


class RetryLater(SendError):
    """Worth another try; `retry_after` seconds is what the server asked for, if it did."""

    retriable = True

    def __init__(self, destination: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(destination, reason)
        self.retry_after = retry_after


class MaybeSent(RetryLater):
    """The request timed out after it was sent: the destination may have delivered it.

    No Bot API call or webhook takes an idempotency key, so the only way to be sure a message
    arrives is to send it again, which may show it twice. `retry_after` is how long to wait
    first: long enough for a slow success still on its way to land rather than race a second
    copy (and the sender raises its own timeout, so the retry itself is not cut short).
    """


class PermanentFailure(SendError):
    """Retrying cannot help (blocked bot, unknown chat, malformed message)."""


class ChatGone(PermanentFailure):
    """The bot may no longer write to this chat at all; stop trying until it comes back."""


class ChatMoved(PermanentFailure):
    """The chat lives on under another destination key (a group upgraded to a supergroup)."""

    def __init__(self, destination: str, reason: str, new_destination: str) -> None:
        super().__init__(destination, reason)
        self.new_destination = new_destination
