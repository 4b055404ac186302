"""The mediawatch config file: its pydantic model, loading, and cross-checks with watchlists.

Built once in `main()` and passed down; nothing reads config from a global.
"""

import glob
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from ingest.poller import DEFAULT_MAX_ARTICLE_BYTES
from ingest.pool import PoolSettings
from ingest.schedule import SchedulePolicy, Shard
from ingest.stories import DEFAULT_THRESHOLD
from notify.digest import HoldPolicy, QuietHours
from notify.ratelimit import BackoffConfig
from notify.render import RenderOptions
from notify.routing import Routes, SlackRoute
from services.yamlfile import (
    ConfigError,
    Path_,
    Problem,
    YamlDocument,
    dotted,
    read_yaml,
    validate,
    validate_all,
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


def format_duration(seconds: float) -> str:
    """Seconds → the shortest duration `parse_duration` reads back exactly (`300` → `5m`)."""
    if seconds == int(seconds):
        for unit in ("d", "h", "m"):
            if int(seconds) % _UNITS[unit] == 0:
                return f"{int(seconds) // int(_UNITS[unit])}{unit}"
        return f"{int(seconds)}s"
    return format(seconds, "f").rstrip("0") + "s"


Duration = Annotated[float, BeforeValidator(parse_duration)]

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h|sec|min|hour)\s*$")
_PER = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}


def parse_rate(value: Any) -> float:
    """`30/s`, `20/m`, `600/h` → events per second."""
    m = _RATE_RE.match(str(value)) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not a rate (write 30/s, 20/m or 600/h)")
    rate = float(m.group(1)) / _PER[m.group(2)]
    if rate <= 0:
        raise ValueError("a rate must be positive")
    return rate


Rate = Annotated[float, BeforeValidator(parse_rate)]
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


class TelegramLimits(_Section):
    """Telegram's published limits; the sender paces itself under them without a 429."""

    bot: Rate = Field(30.0, description="Messages per bot overall.")
    private_chat: Rate = Field(1.0, description="Messages per private chat.")
    group: Rate = Field(20 / 60, description="Messages per group or channel (chat id < 0).")


class WebhookConfig(_Section):
    """Where Telegram POSTs updates in webhook mode (behind your TLS-terminating proxy)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] = Field(
        description="Public URL Telegram calls, e.g. https://bot.example.org/telegram."
    )
    secret: SecretStr = Field(description="Sent by Telegram in a header; others get 401.")
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(8443, ge=1, le=65535)
    path: Annotated[str, StringConstraints(pattern=r"^/\S*$")] = "/telegram"


class TelegramBotConfig(_Section):
    """The bot people talk to (/subscribe, /mute, ...), answered by long polling."""

    enabled: bool = Field(False, description="Answer commands (needs a token).")
    who_may_subscribe: Literal["open", "allowlist", "admins"] = Field(
        "open",
        description="open: anyone; allowlist: the user or chat ids in `allowlist`; admins: a "
        "group's administrators (private chats and channels are their owners').",
    )
    allowlist: list[int] = Field(default_factory=list, description="User or chat ids.")
    polling_timeout: int = Field(10, ge=1, le=50, description="Long-polling wait, seconds.")
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "TelegramBotConfig":
        if self.who_may_subscribe == "allowlist" and not self.allowlist:
            raise ValueError("who_may_subscribe: allowlist needs a non-empty allowlist")
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError("mode: webhook needs a webhook section (url, secret)")
        return self


class TelegramConfig(_Section):
    token: SecretStr | None = None
    api_base: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] = (
        "https://api.telegram.org"
    )
    chats: list[TelegramChat] = Field(default_factory=list)
    limits: TelegramLimits = Field(default_factory=TelegramLimits)
    request_timeout: Duration = Field(30.0, description="One Bot API call, then retried.")
    bot: TelegramBotConfig = Field(default_factory=TelegramBotConfig)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())


class SlackTarget(_Section):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    webhook_url: SecretStr
    watchlists: list[str] = Field(default_factory=list, description="Empty means all.")


class RetryConfig(_Section):
    """Jittered exponential backoff for 5xx and timeouts (429s wait their `retry_after`)."""

    min_delay: Duration = 0.5
    max_delay: Duration = 60.0

    @model_validator(mode="after")
    def _ordered(self) -> "RetryConfig":
        if self.min_delay > self.max_delay:
            raise ValueError("min_delay must not be above max_delay")
        return self


def _time_zone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone (write e.g. UTC, Asia/Riyadh)") from exc
    return str(value)


_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _clock_time(value: Any) -> time:
    m = _CLOCK_RE.match(str(value).strip())
    if not m or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time of day (write HH:MM, e.g. 22:00)")
    return time(int(m.group(1)), int(m.group(2)))


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class QuietHoursConfig(_Section):
    """Local times (in `notify.timezone`) during which non-critical alerts wait for a digest."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHoursConfig":
        if self.start == self.end:
            raise ValueError("quiet hours must not start and end at the same time")
        return self


class NotifyConfig(_Section):
    timezone: Annotated[str, BeforeValidator(_time_zone)] = Field(
        "UTC", description="Time zone of the times shown in messages (IANA name)."
    )
    console: bool = True
    console_format: Literal["text", "jsonl"] = "text"
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    slack: list[SlackTarget] = Field(default_factory=list)
    slack_rate: Rate = Field(1.0, description="Messages per Slack webhook.")
    quiet_hours: QuietHoursConfig | None = Field(
        None, description="Telegram chats get non-critical alerts as a digest after them."
    )
    ceilings: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Watchlist id → alerts per hour a Telegram chat gets one by one; beyond "
        "that they fold into an hourly digest.",
    )
    link_stories: bool = Field(
        True,
        description="Join alerts of one event told by other outlets or in other languages "
        "(multilingual embeddings, shared countries, time) into one story: one Telegram "
        "message, edited.",
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    outbox_retention: Duration = Field(
        14 * 86400.0,
        description="How long sent messages are remembered (longer than the alerts topic's "
        "retention, or a redelivered old alert would be sent again).",
    )

    def routes(self) -> Routes:
        limits = self.telegram.limits
        return Routes(
            console=self.console,
            console_jsonl=self.console_format == "jsonl",
            telegram=self.telegram.enabled,
            slack=tuple(
                SlackRoute(t.name, t.webhook_url.get_secret_value(), tuple(t.watchlists))
                for t in self.slack
            ),
            bot_rate=limits.bot,
            private_chat_rate=limits.private_chat,
            group_rate=limits.group,
            slack_rate=self.slack_rate,
            options=RenderOptions(tz=ZoneInfo(self.timezone)),
        )

    def hold_policy(self) -> HoldPolicy:
        quiet = self.quiet_hours
        return HoldPolicy(
            tz=ZoneInfo(self.timezone),
            quiet=QuietHours(quiet.start, quiet.end) if quiet else None,
            ceilings=dict(self.ceilings),
        )

    def backoff(self) -> BackoffConfig:
        return BackoffConfig(min_delay=self.retry.min_delay, max_delay=self.retry.max_delay)


class DetectConfig(_Section):
    reload_interval: Duration = Field(
        5.0, description="How often detect checks the watchlist files for changes."
    )


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
    max_article_bytes: int = Field(
        DEFAULT_MAX_ARTICLE_BYTES,
        ge=4096,
        le=1_000_000,
        description="Largest article published (JSON bytes); a longer one is cut to fit.",
    )
    journal_retention: Duration = Field(
        172800.0,
        description="Embedded broker: how long a published article is kept for a replay "
        "while it is not known to have reached notify's outbox.",
    )

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

    def pool(self) -> PoolSettings:
        return PoolSettings(
            self.concurrency, self.per_host_concurrency, self.per_host_delay, self.policy()
        )


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
    detect: DetectConfig = Field(default_factory=DetectConfig)
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


def is_watchlist_file(path: Path) -> bool:
    """Whether `path` holds a watchlist rather than a config (a config has no `rules`)."""
    try:
        data = read_yaml(path).data
    except ConfigError:
        return False
    return isinstance(data, dict) and "rules" in data


def _pattern_files(pattern: str, base: Path) -> list[Path]:
    resolved = Path(pattern).expanduser()
    resolved = resolved if resolved.is_absolute() else base / resolved
    if resolved.is_dir():
        return sorted(resolved.glob("*.yaml")) + sorted(resolved.glob("*.yml"))
    if glob.has_magic(str(resolved)):
        return sorted(Path(p) for p in glob.glob(str(resolved)))
    return [resolved]  # a file: if it is missing, reading it says so


def watchlist_paths(patterns: list[str], base: Path) -> list[Path]:
    """Files named by watchlist paths, directories or globs (relative to `base`), sorted."""
    return [path for pattern in patterns for path in _pattern_files(pattern, base)]


@dataclass(frozen=True)
class WatchlistSet:
    """What loading watchlist files gave: the valid watchlists, every problem, and the ids the
    files declare, valid or not (so a config naming a broken watchlist is not told it is
    unknown)."""

    watchlists: list[Watchlist]
    problems: list[Problem]
    declared: frozenset[str]


def collect_watchlists(paths: list[Path]) -> WatchlistSet:
    """Load every watchlist file, collecting the problems of them all instead of raising."""
    problems: list[Problem] = []
    watchlists: list[Watchlist] = []
    declared: set[str] = set()
    first_file: dict[str, Path] = {}
    for path in paths:
        try:
            doc = read_yaml(path)
            if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
                declared.add(doc.data["id"])
            watchlist = validate(doc, Watchlist, label=_watchlist_label(doc.data))
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
    return WatchlistSet(watchlists, problems, frozenset(declared))


def load_watchlists(paths: list[Path]) -> list[Watchlist]:
    """Load every watchlist file; raises one `ConfigError` listing the problems of them all."""
    found = collect_watchlists(paths)
    if found.problems:
        raise ConfigError(found.problems)
    return found.watchlists


def check_references(
    loaded: LoadedConfig, watchlists: list[Watchlist], declared: frozenset[str] = frozenset()
) -> list[Problem]:
    """Problems where the config names a watchlist that does not exist (`declared`: ids of
    watchlist files that have problems of their own, known all the same)."""
    problems = []
    if not loaded.config.watchlists:
        problems.append(loaded.doc.problem(("watchlists",), "lists no watchlist file"))
    return problems + unknown_watchlists(loaded.doc, watchlists, declared)


def unknown_watchlists(
    doc: YamlDocument, watchlists: list[Watchlist], declared: frozenset[str] = frozenset()
) -> list[Problem]:
    """A problem for each watchlist id the config names (chats', Slack targets' and ceilings')
    that no watchlist declares. Read from the document, so that a config with problems of its
    own is told these too, in the same pass."""
    known = {w.id for w in watchlists} | declared
    listing = ", ".join(sorted(known)) or "none"
    return [
        doc.problem(loc, f"unknown watchlist {name!r} (known: {listing})")
        for loc, name in _named_watchlists(doc.data)
        if name not in known
    ]


def _named_watchlists(data: Any) -> list[tuple[Path_, str]]:
    """(where, id) of every watchlist id in a config's raw data, skipping what is not shaped
    like one (its own validation problem says so)."""

    def get(node: Any, key: str) -> Any:
        return node.get(key) if isinstance(node, dict) else None

    notify = get(data, "notify")
    named: list[tuple[Path_, str]] = []
    ceilings = get(notify, "ceilings")
    if isinstance(ceilings, dict):
        named += [(("notify", "ceilings", k), k) for k in ceilings if isinstance(k, str)]
    chats = get(get(notify, "telegram"), "chats")
    targets: list[tuple[Path_, Any]] = []
    if isinstance(chats, list):
        targets += [(("notify", "telegram", "chats", i), c) for i, c in enumerate(chats)]
    slack = get(notify, "slack")
    if isinstance(slack, list):
        targets += [(("notify", "slack", i), t) for i, t in enumerate(slack)]
    for loc, target in targets:
        names = get(target, "watchlists")
        if isinstance(names, list):
            named += [
                ((*loc, "watchlists", j), n) for j, n in enumerate(names) if isinstance(n, str)
            ]
    return named


@dataclass(frozen=True)
class WatchlistFiles:
    """The watchlist files a config (or the command line) names, re-read when they change."""

    patterns: tuple[str, ...]
    base: Path
    #: The config naming them, to locate a pattern's problem there; None: the command line.
    origin: YamlDocument | None = field(default=None, compare=False)

    @classmethod
    def of(cls, loaded: LoadedConfig) -> "WatchlistFiles":
        return cls(tuple(loaded.config.watchlists), loaded.base_dir, loaded.doc)

    def paths(self) -> list[Path]:
        return watchlist_paths(list(self.patterns), self.base)

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Changes whenever a file is added, removed or rewritten."""
        out = []
        for path in self.paths():
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def unmatched(self) -> list[Problem]:
        """A problem for each directory without watchlists and each glob matching nothing:
        an empty pattern is a mistake, as a missing file is."""
        problems = []
        for i, pattern in enumerate(self.patterns):
            if _pattern_files(pattern, self.base):
                continue
            resolved = self.base / Path(pattern).expanduser()
            what = (
                "no .yaml or .yml file in this directory"
                if resolved.is_dir()
                else "no file matches this pattern"
            )
            if self.origin is None:
                problems.append(Problem(pattern, None, "", what))
            else:
                problems.append(self.origin.problem(("watchlists", i), f"{pattern!r}: {what}"))
        return problems

    def collect(self) -> WatchlistSet:
        """Every watchlist, and every problem of the patterns and of the files."""
        found = collect_watchlists(self.paths())
        return WatchlistSet(found.watchlists, self.unmatched() + found.problems, found.declared)

    def load(self) -> list[Watchlist]:
        """The watchlists; raises `ConfigError` listing every problem."""
        found = self.collect()
        if found.problems:
            raise ConfigError(found.problems)
        return found.watchlists


@dataclass(frozen=True)
class CheckReport:
    """What `mediawatch check` found: every problem, or a summary of what is valid."""

    problems: list[Problem]
    summary: str = ""
    loaded: LoadedConfig | None = None


def _raw_patterns(doc: YamlDocument) -> list[str] | None:
    """The `watchlists` of a config that did not validate, when they can be read at all."""
    if not isinstance(doc.data, dict) or "watchlists" not in doc.data:
        return list(Config().watchlists)
    raw = doc.data["watchlists"]
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return raw
    return None  # the config's own problems say what is wrong with it


def check_config(path: Path) -> CheckReport:
    """Every problem of a config file and of the watchlists it names, at once: the watchlists
    are checked even when the config has problems of its own."""
    try:
        doc = read_yaml(path)
    except ConfigError as exc:
        return CheckReport(exc.problems)
    config, problems = validate_all(doc, Config)
    if config is not None:
        files = WatchlistFiles(tuple(config.watchlists), doc.path.parent, doc)
    elif (patterns := _raw_patterns(doc)) is not None:
        files = WatchlistFiles(tuple(patterns), doc.path.parent, doc)
    else:
        return CheckReport(problems)
    found = files.collect()
    problems += found.problems
    if config is None:
        return CheckReport(problems + unknown_watchlists(doc, found.watchlists, found.declared))
    loaded = LoadedConfig(config, doc)
    problems += check_references(loaded, found.watchlists, found.declared)
    rules = sum(len(w.rules) for w in found.watchlists)
    summary = (
        f"{path}: ok: {len(config.feeds)} feeds, {len(found.watchlists)} watchlists, {rules} rules"
    )
    return CheckReport(problems, summary, loaded)


def check_watchlists(files: WatchlistFiles) -> CheckReport:
    """Every problem of standalone watchlist files (no config involved)."""
    found = files.collect()
    rules = sum(len(w.rules) for w in found.watchlists)
    summary = f"{', '.join(files.patterns)}: ok: {len(found.watchlists)} watchlists, {rules} rules"
    return CheckReport(found.problems, summary)
