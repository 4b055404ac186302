"""The mediawatch config file: its pydantic model, loading, and cross-checks with watchlists.

Built once in `main()` and passed down; nothing reads config from a global.
"""

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from detect.watchlist import Watchlist
from ingest.fetch import FetchLimits
from ingest.schedule import SchedulePolicy, Shard
from ingest.stories import DEFAULT_THRESHOLD
from services.yamlfile import (
    ConfigError,
    Path_,
    Problem,
    YamlDocument,
    dotted,
    read_yaml,
    validate,
)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """`90s`, `5m`, `1h`, `1d` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is written like 90s, 5m, 1h or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration (write 90s, 5m, 1h or whole seconds)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaConfig(_Section):
    bootstrap: str = Field("embedded", description="`embedded` or `host:port,host:port`.")
    topic_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = (
        "mediawatch"
    )
    partitions: int = Field(3, ge=1, le=1000, description="Partitions of topics we create.")
    replication_factor: int = Field(1, ge=1, le=10)
    session_timeout_ms: int | None = Field(
        None,
        ge=500,
        description="Consumer group session timeout; default 1000 on the embedded "
        "broker (fast joins), 10000 on real Kafka (its minimum is usually 6000).",
    )

    @property
    def embedded(self) -> bool:
        return self.bootstrap.strip() == "embedded"


class StorageConfig(_Section):
    path: Path = Field(Path("data"), description="Directory of the SQLite files.")


class FeedConfig(_Section):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    name: Name | None = None
    lang: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] | None = None
    interval: Duration | None = Field(
        None, description="Fixed poll interval; unset: adaptive within ingest.min/max_interval."
    )
    full_text: bool = Field(
        False, description="Fetch each new article's page for its full text (fulltext extra)."
    )

    @field_validator("full_text")
    @classmethod
    def _fulltext_installed(cls, value: bool) -> bool:
        from ingest.fulltext import available

        if value and not available():
            raise ValueError("needs the fulltext extra: pip install 'mediawatch[fulltext]'")
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.url


ChatId = int | Annotated[str, StringConstraints(pattern=r"^@[A-Za-z0-9_]{4,}$")]


class TelegramChat(_Section):
    id: ChatId = Field(description="Numeric chat id, or @channelusername.")
    watchlists: list[str] = Field(default_factory=list, description="Empty means all.")


class TelegramConfig(_Section):
    token: SecretStr | None = None
    api_base: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] = (
        "https://api.telegram.org"
    )
    chats: list[TelegramChat] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())


class SlackTarget(_Section):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    webhook_url: SecretStr
    watchlists: list[str] = Field(default_factory=list, description="Empty means all.")


class NotifyConfig(_Section):
    console: bool = True
    console_format: Literal["text", "jsonl"] = "text"
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    slack: list[SlackTarget] = Field(default_factory=list)


class IngestConfig(_Section):
    concurrency: int = Field(50, ge=1, le=2000, description="Feeds fetched at once, in all.")
    per_host_concurrency: int = Field(2, ge=1, le=100, description="Fetches at once per host.")
    per_host_delay: Duration = Field(0.25, description="Pause between two starts on one host.")
    default_interval: Duration = Field(300.0, description="Interval before a feed has history.")
    min_interval: Duration = 60.0
    max_interval: Duration = 3600.0
    adaptive: bool = Field(True, description="Poll busy feeds more often, quiet ones less.")
    max_backoff: Duration = Field(3600.0, description="Ceiling of a failing feed's backoff.")
    timeout: Duration = Field(30.0, description="Total time of one fetch, body included.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="After decompression.")
    max_redirects: int = Field(5, ge=0, le=20)
    shard: str = Field("0/1", description="This replica's share of the feeds: i/n, 0-based.")
    allow_private_networks: bool = Field(
        False, description="Let feed URLs reach loopback, private and link-local addresses."
    )
    detect_language: bool = Field(
        True, description="Guess the language of articles whose feed does not give one."
    )
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, description="Candidates for the guess; empty: all ~100 known."
    )
    stories: bool = Field(True, description="Give copies of one story a shared story_id.")
    story_threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, le=1, description="Similarity from which copies are one story."
    )
    story_window: Duration = Field(172800.0, description="How far back copies are looked for.")

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        Shard.parse(value)
        return value

    @model_validator(mode="after")
    def _bounds(self) -> "IngestConfig":
        if self.min_interval > self.max_interval:
            raise ValueError(
                f"min_interval ({self.min_interval:g}s) is above max_interval "
                f"({self.max_interval:g}s)"
            )
        return self

    def policy(self) -> SchedulePolicy:
        return SchedulePolicy(
            default_interval_s=self.default_interval,
            min_interval_s=self.min_interval,
            max_interval_s=self.max_interval,
            max_backoff_s=self.max_backoff,
            adaptive=self.adaptive,
        )

    def limits(self) -> FetchLimits:
        return FetchLimits(self.timeout, self.max_body_bytes, self.max_redirects)


class MetricsConfig(_Section):
    host: str = "0.0.0.0"
    port: int = Field(9108, ge=0, le=65535, description="0 picks a free port.")


class Config(_Section):
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    feeds: list[FeedConfig] = Field(default_factory=list)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    watchlists: list[str] = Field(default_factory=lambda: ["watchlists/*.yaml"])
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from (to resolve relative paths, to name lines)."""

    config: Config
    doc: YamlDocument

    @property
    def base_dir(self) -> Path:
        return self.doc.path.parent

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, relative to the config file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def storage_dir(self) -> Path:
        return self.resolve(self.config.storage.path)


def load_config(path: Path) -> LoadedConfig:
    """Read and validate the config file; raises `ConfigError` listing every problem."""
    doc = read_yaml(path)
    return LoadedConfig(validate(doc, Config), doc)


def _watchlist_label(data: Any) -> Any:
    def label(loc: Path_) -> str:
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                rule_id = data["rules"][loc[1]]["id"]
            except (KeyError, IndexError, TypeError):
                rule_id = None
            if isinstance(rule_id, str):
                rest = ".".join(str(p) for p in loc[2:])
                return f"rule {rule_id}" + (f": {rest}" if rest else "")
        return dotted(loc)

    return label


def load_watchlist(path: Path) -> Watchlist:
    doc = read_yaml(path)
    return validate(doc, Watchlist, label=_watchlist_label(doc.data))


def watchlist_paths(patterns: list[str], base: Path) -> list[Path]:
    """Files named by watchlist paths, directories or globs (relative to `base`), sorted."""
    paths: list[Path] = []
    for pattern in patterns:
        resolved = Path(pattern).expanduser()
        resolved = resolved if resolved.is_absolute() else base / resolved
        if resolved.is_dir():
            paths.extend(sorted(resolved.glob("*.yaml")) + sorted(resolved.glob("*.yml")))
        elif glob.has_magic(str(resolved)):
            paths.extend(sorted(Path(p) for p in glob.glob(str(resolved))))
        else:
            paths.append(resolved)
    return paths


def load_watchlists(paths: list[Path]) -> list[Watchlist]:
    """Load every watchlist file; raises one `ConfigError` listing the problems of them all."""
    problems: list[Problem] = []
    watchlists: list[Watchlist] = []
    first_file: dict[str, Path] = {}
    for path in paths:
        try:
            watchlist = load_watchlist(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if watchlist.id in first_file:
            problems.append(
                Problem(
                    str(path),
                    1,
                    "id",
                    f"watchlist id {watchlist.id!r} also used in {first_file[watchlist.id]}",
                )
            )
            continue
        first_file[watchlist.id] = path
        watchlists.append(watchlist)
    if problems:
        raise ConfigError(problems)
    return watchlists


def check_references(loaded: LoadedConfig, watchlists: list[Watchlist]) -> list[Problem]:
    """Problems where the config names a watchlist that does not exist."""
    known = {w.id for w in watchlists}
    problems = []
    if not watchlists:
        problems.append(loaded.doc.problem(("watchlists",), "no watchlist file found"))
    notify = loaded.config.notify
    refs: list[tuple[Path_, list[str]]] = [
        (("notify", "telegram", "chats", i, "watchlists"), chat.watchlists)
        for i, chat in enumerate(notify.telegram.chats)
    ] + [(("notify", "slack", i, "watchlists"), t.watchlists) for i, t in enumerate(notify.slack)]
    for loc, names in refs:
        for j, name in enumerate(names):
            if name not in known:
                problems.append(
                    loaded.doc.problem(
                        (*loc, j),
                        f"unknown watchlist {name!r} (known: {', '.join(sorted(known)) or 'none'})",
                    )
                )
    return problems
