"""Every error a client library can raise at a boundary is translated, once, into ours.

The habit of httpx's `test_httpcore_all_exceptions_mapped`: walk the library's exception tree
and check that each class comes out of our translation as the error we mean, retriable or not.
"""

import contextlib
import inspect
from collections.abc import Iterator

import aiogram.exceptions
import aiohttp
import pytest
from aiogram.methods import SendMessage
from aiokafka import errors as kafka_errors

from notify.errors import ChatGone, ChatMoved, MaybeSent, PermanentFailure, RetryLater, SendError
from notify.telegram import SlowAnswers, TelegramSender, make_bot
from services.kafka import _RETRIABLE_OVERRIDES, publish_error


def subclasses(root: type) -> Iterator[type]:
    for cls in root.__subclasses__():
        yield cls
        yield from subclasses(cls)


#: BrokerResponseError is abstract (aiokafka raises its subclasses, each with an errno; the
#: base cannot even be printed).
KAFKA_ERRORS = sorted(
    set(subclasses(kafka_errors.KafkaError)) - {kafka_errors.BrokerResponseError},
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", KAFKA_ERRORS, ids=lambda c: c.__name__)
def test_every_aiokafka_error_becomes_a_publish_error_retriable_as_kafka_says(cls: type) -> None:
    error = publish_error(cls())
    expected = _RETRIABLE_OVERRIDES.get(cls, bool(cls.retriable))
    assert error.retriable is expected
    assert cls.__name__ in str(error)


def test_the_errors_a_broker_outage_and_an_oversized_record_give() -> None:
    assert publish_error(kafka_errors.KafkaTimeoutError()).retriable  # no ack, no metadata
    assert publish_error(kafka_errors.KafkaConnectionError()).retriable
    assert publish_error(ConnectionResetError()).retriable
    assert not publish_error(kafka_errors.MessageSizeTooLargeError()).retriable


def telegram_error(cls: type) -> Exception:
    """An instance of an aiogram exception, built as aiogram builds it."""
    method = SendMessage(chat_id=1, text="x")
    parameters = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, object] = {"message": "injected"}
    if "method" in parameters:
        kwargs["method"] = method
    if "retry_after" in parameters:
        kwargs["retry_after"] = 3
    if "migrate_to_chat_id" in parameters:
        kwargs["migrate_to_chat_id"] = -1002
    if "url" in parameters:
        kwargs["url"] = "https://example.org"
    if "original" in parameters:
        kwargs.update(original=ValueError("not JSON"), data="<html>")
    return cls(**{k: v for k, v in kwargs.items() if k in parameters})


TELEGRAM_ERRORS = sorted(
    {
        aiogram.exceptions.TelegramAPIError,
        *subclasses(aiogram.exceptions.TelegramAPIError),
        aiogram.exceptions.ClientDecodeError,
    },
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", TELEGRAM_ERRORS, ids=lambda c: c.__name__)
async def test_every_telegram_api_error_becomes_a_send_error(cls: type) -> None:
    bot = make_bot("1:x", "http://127.0.0.1:9", 30)
    try:
        sender = TelegramSender(bot, 1, timeouts=SlowAnswers(bot.session))
        with pytest.raises(SendError) as raised:
            with sender._translated():
                raise telegram_error(cls)
    finally:
        await bot.session.close()
    expected: type[SendError] = PermanentFailure
    if cls is aiogram.exceptions.TelegramRetryAfter:
        expected = RetryLater
        assert raised.value.retry_after == 3  # type: ignore[attr-defined]
    elif issubclass(cls, aiogram.exceptions.TelegramServerError):  # RestartingTelegram too
        expected = RetryLater
    elif cls is aiogram.exceptions.TelegramNetworkError:  # could not connect: not sent
        expected = RetryLater
    elif cls is aiogram.exceptions.ClientDecodeError:  # an answer came: maybe it was sent
        expected = MaybeSent
    elif cls is aiogram.exceptions.TelegramForbiddenError:
        expected = ChatGone
    elif cls is aiogram.exceptions.TelegramMigrateToChat:
        expected = ChatMoved
    assert type(raised.value) is expected


@pytest.mark.parametrize(
    ("cause", "maybe_sent"),
    [
        (TimeoutError(), True),  # sent, no answer: it may have arrived
        (aiohttp.ServerDisconnectedError(), True),
        (
            aiohttp.ClientConnectorError(connection_key=None, os_error=OSError(111, "refused")),
            False,
        ),  # type: ignore[arg-type]
    ],
)
async def test_a_network_error_is_ambiguous_only_if_the_request_went_out(
    cause: BaseException, maybe_sent: bool
) -> None:
    bot = make_bot("1:x", "http://127.0.0.1:9", 2)
    try:
        timeouts = SlowAnswers(bot.session)
        sender = TelegramSender(bot, 1, timeouts=timeouts)
        with pytest.raises(RetryLater) as raised:
            with sender._translated():
                with contextlib.suppress(type(cause)):
                    raise cause
                raise aiogram.exceptions.TelegramNetworkError(
                    method=SendMessage(chat_id=1, text="x"), message="network"
                ) from cause
        assert isinstance(raised.value, MaybeSent) is maybe_sent
        if maybe_sent:  # the wait covers the time the request had; the next ones get more
            assert raised.value.retry_after == 2 and timeouts.current_s == 4
        else:
            assert timeouts.current_s == 2
    finally:
        await bot.session.close()


async def test_slow_answers_raise_the_timeout_to_a_ceiling_and_quick_ones_bring_it_back() -> None:
    bot = make_bot("1:x", "http://127.0.0.1:9", 30)
    try:
        timeouts = SlowAnswers(bot.session)
        assert [timeouts.timed_out() for _ in range(4)] == [30, 60, 120, 120]
        timeouts.answered(35.0)
        assert timeouts.current_s == 70  # twice the slow answer it just had
        timeouts.answered(0.2)
        assert timeouts.current_s == 30 == bot.session.timeout
    finally:
        await bot.session.close()
