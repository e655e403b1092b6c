"""Headless Chromium driving the consumer's page, for tests and scripts.

Uses Debian's ``chromium`` and ``chromium-driver`` packages, which
``scripts/install-browser`` installs. Selenium Manager is never used,
because the driver path is given.
"""

import subprocess
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# --no-sandbox because the tests run as root, where Chromium's sandbox
# cannot start. The --disable-*-networking, -update, -sync and -quic flags
# stop Chromium's own background requests, and --lang fixes the date format.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
)

# Replaces the dialog functions before any page script runs, so that a call
# is recorded in window.notifyDialogCalls instead of opening a dialog.
_DIALOG_RECORDER = """
window.notifyDialogCalls = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (...args) => {
    window.notifyDialogCalls.push(name + "(" + args.join(", ") + ")");
  };
}
"""


def start_chromium(
    profile_dir: Path,
    driver_log: Path | None = None,
    window_size: tuple[int, int] = (1280, 900),
) -> webdriver.Chrome:
    """Start headless Chromium with a fresh profile in ``profile_dir``.

    Raises ``RuntimeError`` when Chromium or ChromeDriver is not installed.
    """
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} not found; install them with "
            "scripts/install-browser (as root)"
        )

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={window_size[0]},{window_size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    log_output = str(driver_log) if driver_log else subprocess.DEVNULL
    service = Service(str(CHROMEDRIVER), log_output=log_output)
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": _DIALOG_RECORDER}
    )
    return driver


class NotifyPage:
    """The consumer's page in a browser, with the steps a person takes."""

    def __init__(self, driver: webdriver.Chrome, consumer_url: str, timeout: float):
        self.driver = driver
        self.url = f"{consumer_url}/"
        self.wait = WebDriverWait(driver, timeout)

    def open(self) -> None:
        self.driver.get(self.url)

    def choose_user(self, name: str) -> None:
        """Click the quick choice of user ``name``, then wait for the live feed."""
        self.driver.find_element(
            By.CSS_SELECTOR, f'.quick-user[data-user-name="{name}"]'
        ).click()
        self.wait.until(
            lambda _: self._data_state("feed-section") == "ready",
            message="feed loaded",
        )
        self.wait.until(
            lambda _: self._data_state("stream-status") == "live",
            message="live updates on",
        )

    def send(self, from_id: str, to_id: str, message: str) -> tuple[str, str]:
        """Send a notification with the form and return the result state and text."""
        for field_id, value in (
            ("send-from", from_id),
            ("send-to", to_id),
            ("send-message", message),
        ):
            field = self.driver.find_element(By.ID, field_id)
            field.clear()
            field.send_keys(value)
        self.driver.find_element(By.ID, "send-button").click()

        self.wait.until(
            lambda _: self._data_state("send-result") in ("ok", "error"),
            message="send result shown",
        )
        result = self.driver.find_element(By.ID, "send-result")
        return result.get_attribute("data-state"), result.text

    def items(self) -> list[WebElement]:
        """Return the feed's notifications, top first."""
        return self.driver.find_elements(By.CSS_SELECTOR, "#feed > li")

    def wait_for_item(self, message: str) -> WebElement:
        """Wait until the feed shows a notification whose text is ``message``."""

        def find(_driver):
            for item in self.items():
                if self.message_of(item) == message:
                    return item
            return None

        return self.wait.until(find, message=f"notification {message!r} shown")

    def message_of(self, item: WebElement) -> str:
        text = item.find_element(By.CLASS_NAME, "notification-message")
        return text.get_property("textContent")

    def badge(self) -> str:
        return self.driver.find_element(By.ID, "unread-badge").text

    def wait_for_badge(self, text: str) -> None:
        self.wait.until(
            lambda _: self.badge() == text, message=f"unread badge {text!r}"
        )

    def dialog_calls(self) -> list[str]:
        return self.driver.execute_script("return window.notifyDialogCalls;")

    def _data_state(self, element_id: str) -> str | None:
        element = self.driver.find_element(By.ID, element_id)
        return element.get_attribute("data-state")
