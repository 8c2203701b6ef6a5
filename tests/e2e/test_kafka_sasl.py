"""SASL/SCRAM on a real Kafka listener, configured as the README says: the three services
connect and a message goes end to end; a wrong password gets one clear error and
``/readyz`` 503, not a crash loop, and no password reaches a log."""

from __future__ import annotations

import secrets

import httpx
import pytest

from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.processes import local_service
from tests.conftest import SCRAM_USER
from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture(scope="module")
def broker(kafka_cluster: KafkaCluster) -> KafkaCluster:
    """The cluster's SASL_PLAINTEXT listener needs a real Kafka."""
    return kafka_cluster


def _sasl_env(cluster: KafkaCluster, password: str) -> dict[str, str]:
    """The README's settings for a SCRAM-SHA-256 listener."""
    return {
        "MOODSTREAM_BROKER_URL": ",".join(
            f"kafka://{address}" for address in cluster.sasl_bootstrap.split(",")
        ),
        "MOODSTREAM_BROKER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "MOODSTREAM_BROKER_SASL_MECHANISM": "SCRAM-SHA-256",
        "MOODSTREAM_BROKER_SASL_USERNAME": SCRAM_USER,
        "MOODSTREAM_BROKER_SASL_PASSWORD": password,
    }


@pytest.fixture(scope="module")
def stack_env(kafka_cluster: KafkaCluster) -> dict[str, str]:
    """Every service talks to the cluster over SASL/SCRAM only."""
    return _sasl_env(kafka_cluster, kafka_cluster.scram_users[SCRAM_USER])


def test_services_connect_over_sasl_scram_and_score_a_message(stack, kafka_cluster):
    message_id = f"sasl_{secrets.token_hex(4)}"
    response = httpx.post(f"{stack['ingest'].url}/v1/messages", timeout=30,
                          json={"id": message_id, "text": "Secure and happy #sasl",
                                "user_id": "u_sasl"})
    assert response.status_code == 202, response.text

    def scored() -> dict | None:
        answer = httpx.get(f"{stack['aggregator'].url}/v1/messages/{message_id}", timeout=10)
        return answer.json() if answer.status_code == 200 and answer.json().get("label") else None

    state = eventually(scored, timeout=90)
    assert state["hashtags"] == ["sasl"]
    password = kafka_cluster.scram_users[SCRAM_USER]
    for service in stack.values():
        assert password not in service.log_path.read_text(errors="replace"), service.name


def test_a_wrong_password_is_one_clear_error_and_not_ready(kafka_cluster, tmp_path,
                                                           stack_prefix):
    wrong = secrets.token_urlsafe(12)
    ingest = local_service("ingest", kafka_cluster, tmp_path, topic_prefix=stack_prefix,
                           extra=_sasl_env(kafka_cluster, wrong))
    ingest.start()
    try:
        def refused() -> dict | None:
            try:
                answer = httpx.get(f"{ingest.url}/readyz", timeout=2)
            except httpx.HTTPError:
                return None
            return answer.json() if answer.status_code == 503 else None

        body = eventually(refused, timeout=60)
        assert body["reason"] == "broker_credentials_refused", body
        assert httpx.get(f"{ingest.url}/healthz", timeout=2).status_code == 200
        # Still there, and still refusing, after more tries: no crash loop.
        eventually(lambda: (state := refused()) and state["refusals"] >= 3, timeout=60)
        assert ingest.running, f"ingest exited: see {ingest.log_path}"
        log = ingest.log_path.read_text(errors="replace")
        assert log.count("refuses this service's credentials") == 1, log[-2000:]
        assert "MOODSTREAM_BROKER_SASL_PASSWORD" in log
        assert wrong not in log
        assert "Traceback" not in log
    finally:
        ingest.stop()
