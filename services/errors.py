"""Errors the service layer raises for problems a person must fix; each prints as one line.

ServiceError
├── PortInUseError   a port we must listen on is taken: names the port and the setting
└── BrokerError      the embedded broker could not be started

(A config or watchlist file's problems are `services.yamlfile.ConfigError`, one line each.)
"""


class ServiceError(Exception):
    """Root of the errors `mediawatch` reports as one line and exit code 2."""


class PortInUseError(ServiceError):
    def __init__(self, port: int, setting: str) -> None:
        super().__init__(
            f"port {port} is already in use (it is {setting}): choose another, or 0 for a free one"
        )
        self.port = port
        self.setting = setting


class BrokerError(ServiceError):
    """The embedded broker could not be started."""
