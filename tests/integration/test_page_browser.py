"""The consumer's page in headless Chromium, against the real services.

The page is served by the consumer and sends through the producer, which
is another origin (another port), so sending also depends on the
producer's CORS headers.
"""

import pytest
from selenium.webdriver.common.by import By

from tests.browser import NotifyPage, start_chromium

WAIT_SECONDS = 10
MARKUP_MESSAGE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def page_services(start_service, service_env):
    """Start a producer and a consumer whose page sends through it."""
    producer = start_service("producer:create_app()", service_env)
    consumer = start_service(
        "consumer:create_app()",
        {**service_env, "NOTIFY_PRODUCER_URL": producer.url},
    )
    return producer, consumer


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(
        tmp_path / "chromium-profile", driver_log=tmp_path / "chromedriver.log"
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(page_services, browser):
    """The page open on Emma's live feed."""
    _, consumer = page_services
    notify_page = NotifyPage(browser, consumer.url, WAIT_SECONDS)
    notify_page.open()
    assert browser.title == "kafka-notify", f"{consumer.url}/ did not serve the page"
    # A reload would drop this marker, so checking it proves there was none.
    browser.execute_script("window.pageMarker = 'first load';")
    notify_page.choose_user("Emma")
    return notify_page


def severe_console_entries(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]


def test_page_shows_and_marks_live_notifications(page):
    driver = page.driver
    assert page.badge() == "0 unread"

    state, text = page.send("2", "1", "Bruno started following you.")
    assert state == "ok", text
    assert "Notification sent successfully!" in text
    first = page.wait_for_item("Bruno started following you.")
    page.wait_for_badge("1 unread")
    assert "is-unread" in first.get_attribute("class")
    assert first.find_element(By.CLASS_NAME, "notification-sender").text == "Bruno"

    state, text = page.send("4", "1", "Lena liked your post.")
    assert state == "ok", text
    page.wait_for_item("Lena liked your post.")
    page.wait_for_badge("2 unread")
    messages = [page.message_of(item) for item in page.items()]
    assert messages == ["Lena liked your post.", "Bruno started following you."]

    first.find_element(By.CLASS_NAME, "mark-read").click()
    page.wait_for_badge("1 unread")
    assert "is-read" in first.get_attribute("class")
    assert not first.find_element(By.CLASS_NAME, "mark-read").is_displayed()

    driver.find_element(By.ID, "mark-all-read").click()
    page.wait_for_badge("0 unread")
    for item in page.items():
        assert "is-read" in item.get_attribute("class")

    assert driver.execute_script("return window.pageMarker;") == "first load"
    assert severe_console_entries(driver) == []

    # After a reload the page reads the same state back from the feed.
    driver.refresh()
    page.wait_for_item("Lena liked your post.")
    page.wait_for_badge("0 unread")
    assert len(page.items()) == 2


def test_page_shows_markup_as_text(page):
    driver = page.driver

    state, text = page.send("3", "1", MARKUP_MESSAGE)
    assert state == "ok", text
    item = page.wait_for_item(MARKUP_MESSAGE)
    page.wait_for_badge("1 unread")

    assert page.message_of(item) == MARKUP_MESSAGE
    assert driver.find_elements(By.CSS_SELECTOR, "#feed img") == []
    assert page.dialog_calls() == []
    assert severe_console_entries(driver) == []


def test_page_shows_producer_error(page):
    state, text = page.send("2", "99", "To nobody.")

    assert state == "error"
    assert "User not found" in text
    assert "404" in text
