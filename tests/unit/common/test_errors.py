"""One error body shape for every service."""

from moodstream_common.errors import error_body, rejection_body


def test_error_body_has_a_reason_code_and_a_detail():
    assert error_body("not_found", "m_1") == {"reason": "not_found", "detail": "m_1"}


def test_a_rejection_is_the_error_body_with_its_status():
    body = rejection_body("malformed_json", "line 1")
    assert body == {"status": "rejected", **error_body("malformed_json", "line 1")}
