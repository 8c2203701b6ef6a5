"""Bearer-token check."""

from pydantic import SecretStr

from moodstream_common.auth import authorized


def test_open_when_no_token_configured():
    assert authorized(None, SecretStr(""))


def test_requires_exact_bearer_token():
    token = SecretStr("s3cret")
    assert authorized("Bearer s3cret", token)
    assert not authorized("Bearer s3cre", token)
    assert not authorized("s3cret", token)
    assert not authorized(None, token)
    assert not authorized("Bearer ", token)
