"""Analyzer settings (env prefix ``ANALYZER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_analyzer.model import DEFAULT_MODEL_DIR, DEFAULT_TOKEN_BUDGET, CallPlan, call_plan
from moodstream_common.settings import BrokerSettings


class Settings(BaseSettings):
    """What the analyzer service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="ANALYZER_", extra="ignore")

    web_host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    web_port: int = Field(default=8001, description="HTTP port (health, metrics).")
    model_path: Path = Field(
        default=DEFAULT_MODEL_DIR,
        description="Model directory written by `make model` (weights, ONNX export, "
        "metadata.json).",
    )
    backend: Literal["onnx", "flair"] = Field(
        default="onnx",
        description="`onnx`: the int8 export on ONNX Runtime (no torch); `flair`: the float "
        "flair model it was exported from (needs torch).",
    )
    model_retry_seconds: float = Field(
        default=30.0,
        description="While the model directory cannot be served, how often to try again "
        "(the service stays up, /readyz answers 503 with the reason).",
    )
    batch_size: int = Field(default=64, description="Most texts per model call.")
    stream_batch_size: int = Field(
        default=256,
        description="Most raw records taken from the stream at once. They are scored in "
        "model calls of ANALYZER_BATCH_SIZE, each call's records sent while the next call "
        "runs, and all acknowledged by the broker before their offsets can commit.",
    )
    batch_within_seconds: float = Field(
        default=0.1, description="Longest wait to fill a batch before scoring what is there."
    )
    token_budget: int = Field(
        default=DEFAULT_TOKEN_BUDGET,
        description="Most padded words per model call (texts x longest): long texts are "
        "scored in calls of their own instead of slowing a whole batch.",
    )
    model_calls: int = Field(
        default=0,
        ge=0,
        description="Model calls running at once, each on its own thread; 0 = one more "
        "than the cores for onnx. flair always makes one call at a time.",
    )
    model_threads: int = Field(
        default=0,
        ge=0,
        description="Threads inside one model call (ONNX Runtime or torch); 0 = the cores "
        "divided among ANALYZER_MODEL_CALLS for onnx, torch's default for flair.",
    )

    def call_plan(self) -> CallPlan:
        """How many model calls run at once and the threads inside each."""
        return call_plan(self.backend, self.model_calls, self.model_threads)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


def load() -> Settings:
    """Read settings from the environment."""
    return Settings()
