"""Analyzer settings (env prefix ``ANALYZER_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_analyzer.model import DEFAULT_TOKEN_BUDGET
from moodstream_common.settings import BrokerSettings


class Settings(BaseSettings):
    """What the analyzer service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="ANALYZER_", extra="ignore")

    web_host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    web_port: int = Field(default=8001, description="HTTP port (health, metrics).")
    model_path: Path = Field(
        default=Path("models/sentiment-flair-v1"),
        description="Directory with the trained flair model and its metadata.json.",
    )
    batch_size: int = Field(default=64, description="Most texts per model call.")
    batch_within_seconds: float = Field(
        default=0.1, description="Longest wait to fill a batch before scoring what is there."
    )
    token_budget: int = Field(
        default=DEFAULT_TOKEN_BUDGET,
        description="Most padded words per model call (texts x longest): long texts are "
        "scored in calls of their own instead of slowing a whole batch.",
    )
    torch_threads: int = Field(default=0, description="Torch intra-op threads; 0 = all cores.")
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


def load() -> Settings:
    """Read settings from the environment."""
    return Settings()
