"""Errors raised by the detect package.

DetectError
└── WatchlistError     a watchlist is invalid (bad rule, empty keyword, duplicate id)
"""


class DetectError(Exception):
    """Root of every error the detect package raises."""


class WatchlistError(DetectError):
    """A watchlist cannot be used; `where` names the watchlist and rule."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
