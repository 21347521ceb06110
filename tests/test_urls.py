"""defai_swarm.core.urls: what of a URL may be shown, and which of its parts are secrets (issue 23, finding 6)."""
from __future__ import annotations

import pytest

from defai_swarm.core.urls import is_secret_param, redact_text, redact_url, url_secrets


@pytest.mark.parametrize("url, shown, secrets", [
    ("http://alice:PA%40ss-word@host:8080/v1?api_key=sk-1&x=2#tiny",
     "http://alice:***@host:8080/v1?api_key=***&x=2#tiny", {"PA%40ss-word", "PA@ss-word", "sk-1"}),
    ("https://TOKEN123@host/v1", "https://***@host/v1", {"TOKEN123"}),  # a lone user name is the token form
    ("https://h/v1?Key=a&token=b&access_token=c&secret=d&password=e&sig=f&X-Amz-Signature=g&model=m",
     "https://h/v1?Key=***&token=***&access_token=***&secret=***&password=***&sig=***&X-Amz-Signature=***&model=m",
     {"a", "b", "c", "d", "e", "f", "g"}),
    ("postgresql://u:p4ss@db:5432/x?sslmode=require", "postgresql://u:***@db:5432/x?sslmode=require", {"p4ss"}),
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1", set()),
])
def test_redact_url_and_its_secrets(url, shown, secrets):
    assert redact_url(url) == shown
    assert set(url_secrets(url)) == secrets
    assert all(s not in redact_url(url).replace("***", "") for s in secrets if len(s) > 2)


def test_unparsable_url_is_not_shown_and_text_is_scrubbed():
    assert redact_url("http://[::1:pw@x/v1") == "<unparsable URL (19 characters)>"
    assert not is_secret_param("model") and is_secret_param("client_secret") and is_secret_param("API-KEY")
    assert redact_text("401 for http://h/v1?api_key=sk-long-1 (sk-long-1)", ["sk-long-1"]) == \
        "401 for http://h/v1?api_key=*** (***)"
