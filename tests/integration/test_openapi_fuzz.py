"""Fuzz the ingest HTTP API against its own OpenAPI document (schemathesis): no 5xx,
only documented status codes, every response conforms to the document."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.integration


def test_ingest_api_conforms_to_its_openapi_document(ingest):
    service, _ = ingest
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/messages", "/v1/messages:batch",
                                               "/api/submit-message"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def conforms(case):
            # Rules JSON Schema cannot say (a timestamp must parse and not lie in the
            # future, text must not be blank) make some schema-valid bodies a 400, so
            # "schema-valid data is accepted" is not checked; every other check is:
            # no 5xx, documented status codes, responses that match the document.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        conforms()
    assert service.ready()
