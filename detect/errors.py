"""Errors raised by the detect package.

DetectError
└── QueryError         a rule's query or regex cannot be compiled; says where
"""


class DetectError(Exception):
    """Root of every error the detect package raises."""


class QueryError(DetectError, ValueError):
    """A query or regex is malformed; `column` (1-based) points into `query`.

    A `ValueError` too, so pydantic validators report it as a field error.
    """

    def __init__(self, message: str, query: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.column = column
