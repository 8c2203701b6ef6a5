"""Webhook delivery against a real local HTTP server: signed bodies, retries with a
timeout, and giving up without raising."""

import asyncio
import hashlib
import hmac
import json

import pytest
from aiohttp import web

from moodstream_aggregator.webhook import SIGNATURE_HEADER, Webhook, body_of, deliver

ALERT = {"id": "spike#1", "state": "firing", "rule": "spike", "value": 0.7}


class Receiver:
    """A webhook target whose answers the test scripts: a list of statuses, or 'hang'."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.released = asyncio.Event()  # set at teardown: a hanging answer ends

    async def handle(self, request):
        self.requests.append((dict(request.headers), await request.read()))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            await self.released.wait()
        return web.Response(status=answer)


@pytest.fixture()
async def receiver_at():
    runners = []
    receivers = []

    async def start(answers):
        receiver = Receiver(answers)
        receivers.append(receiver)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]
        return receiver, f"http://127.0.0.1:{port}/hook"

    yield start
    for receiver in receivers:
        receiver.released.set()
    for runner in runners:
        await runner.cleanup()


def no_wait():
    while True:
        yield 0.0


async def test_the_body_is_the_alert_and_the_signature_its_hmac(receiver_at):
    receiver, url = await receiver_at([200])
    assert await deliver(Webhook(url, secret="s3cret"), ALERT, no_wait())
    ((headers, body),) = receiver.requests
    assert json.loads(body) == ALERT
    assert body == body_of(ALERT)
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert headers["X-Moodstream-Alert-Id"] == "spike#1"
    assert "s3cret" not in json.dumps(headers) and b"s3cret" not in body


async def test_without_a_secret_there_is_no_signature(receiver_at):
    receiver, url = await receiver_at([204])
    assert await deliver(Webhook(url), ALERT, no_wait())
    assert SIGNATURE_HEADER not in receiver.requests[0][0]


async def test_server_errors_and_timeouts_are_retried_until_taken(receiver_at):
    receiver, url = await receiver_at([503, "hang", 500, 200])
    hook = Webhook(url, timeout_seconds=0.3, attempts=5)
    assert await deliver(hook, ALERT, no_wait())
    assert len(receiver.requests) == 4


async def test_a_webhook_that_stays_down_is_given_up_after_the_attempts(receiver_at):
    receiver, url = await receiver_at([500] * 10)
    assert not await deliver(Webhook(url, attempts=3), ALERT, no_wait())
    assert len(receiver.requests) == 3


async def test_a_refused_request_is_not_retried(receiver_at):
    receiver, url = await receiver_at([400, 200])
    assert not await deliver(Webhook(url, attempts=5), ALERT, no_wait())
    assert len(receiver.requests) == 1


async def test_a_webhook_nobody_listens_on_is_given_up_without_raising(receiver_at):
    _, url = await receiver_at([])
    closed = url.replace("/hook", "/nothing-here").rsplit(":", 1)[0] + ":9/hook"
    assert not await deliver(Webhook(closed, timeout_seconds=0.5, attempts=2), ALERT, no_wait())
