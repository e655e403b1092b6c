"""Tests of the page blueprint: template, security headers and files."""

from html.parser import HTMLParser

import pytest
from flask import Flask

from common.errors import SettingsError
from common.settings import load_settings
from consumer.page import page_blueprint


def page_client(**environ):
    # static_folder=None: the app serves no files itself, so only the
    # blueprint's routes respond.
    app = Flask("page_test", static_folder=None)
    app.register_blueprint(page_blueprint(load_settings(environ)))
    return app.test_client()


class MetaCollector(HTMLParser):
    """Collect the content of each <meta name=...> tag."""

    def __init__(self):
        super().__init__()
        self.meta = {}

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "meta" and "name" in values:
            self.meta[values["name"]] = values.get("content")


def meta_tags(html: str) -> dict:
    collector = MetaCollector()
    collector.feed(html)
    return collector.meta


def test_page_carries_producer_url():
    response = page_client(NOTIFY_PRODUCER_URL="http://127.0.0.1:18080/").get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert meta_tags(response.text)["notify-producer-url"] == "http://127.0.0.1:18080"


def test_page_escapes_producer_url():
    url = 'http://example.test/a"><script>alert(1)</script>'
    response = page_client(NOTIFY_PRODUCER_URL=url).get("/")

    assert "<script>alert(1)" not in response.text
    assert meta_tags(response.text)["notify-producer-url"] == url


def test_page_security_headers():
    response = page_client(NOTIFY_PRODUCER_URL="https://send.example:8443/api").get("/")
    policy = response.headers["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "connect-src 'self' https://send.example:8443;" in policy
    assert "'unsafe-inline'" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/assets/app.js", "text/javascript"), ("/assets/style.css", "text/css")],
)
def test_page_serves_assets(path, mimetype):
    client = page_client()
    page = client.get("/").text
    response = client.get(path)

    assert f'"{path}"' in page
    assert response.status_code == 200
    assert response.mimetype == mimetype


def test_page_offers_default_users():
    page = page_client().get("/").text

    for user_id, name in ((1, "Emma"), (2, "Bruno"), (3, "Rick"), (4, "Lena")):
        assert f'data-user-id="{user_id}"' in page
        assert f"{name} ({user_id})" in page


def test_page_without_quick_users_for_users_file(tmp_path):
    users_file = tmp_path / "users.json"
    users_file.write_text('[{"id": 7, "name": "Ada"}]')
    page = page_client(NOTIFY_USERS_FILE=str(users_file)).get("/").text

    assert "quick-user" not in page
    assert "Emma" not in page
    assert 'id="user-id"' in page


@pytest.mark.parametrize(
    "url",
    ["http://user:secret@producer.test", "http://producer.test;script-src:8080"],
)
def test_page_rejects_unusable_producer_url(url):
    with pytest.raises(SettingsError, match="NOTIFY_PRODUCER_URL"):
        page_blueprint(load_settings({"NOTIFY_PRODUCER_URL": url}))
