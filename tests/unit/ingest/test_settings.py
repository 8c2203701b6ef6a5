"""Ingest settings: production refuses to start with its intake open."""

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from moodstream_ingest.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("MOODSTREAM_ENVIRONMENT", "MOODSTREAM_ALLOW_OPEN_ENDPOINTS", "INGEST_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_production_with_an_empty_token_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MOODSTREAM_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="INGEST_API_TOKEN is empty"):
        Settings()


def test_production_starts_with_a_token_or_when_told_to_stay_open(monkeypatch):
    monkeypatch.setenv("MOODSTREAM_ENVIRONMENT", "production")
    monkeypatch.setenv("INGEST_API_TOKEN", "s3cret")
    assert Settings().api_token.get_secret_value() == "s3cret"
    monkeypatch.delenv("INGEST_API_TOKEN")
    monkeypatch.setenv("MOODSTREAM_ALLOW_OPEN_ENDPOINTS", "true")
    assert Settings().api_token.get_secret_value() == ""


def test_development_starts_open():
    assert Settings().broker.environment == "development"
    assert Settings().api_token.get_secret_value() == ""


def test_an_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("MOODSTREAM_ENVIRONMENT", "prod")
    with pytest.raises(ValidationError, match="environment"):
        Settings()


def test_the_service_exits_with_the_reason_instead_of_serving_open():
    env = {**os.environ, "MOODSTREAM_ENVIRONMENT": "production", "INGEST_API_TOKEN": ""}
    env.pop("MOODSTREAM_ALLOW_OPEN_ENDPOINTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "moodstream_ingest"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode != 0
    assert "INGEST_API_TOKEN is empty" in done.stderr
