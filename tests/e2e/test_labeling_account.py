"""The change-password page in Chromium: from the menu, refusals shown in the page, then a change that
keeps this browser logged in and logs every other browser out.
"""

from __future__ import annotations

import pytest

from browser_helpers import chromium, log_in
from labeling_helpers import PASSWORD
from labeling_web_helpers import running_service

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW = "a much better passphrase"


def fill(page, current: str, new: str, again: str) -> None:
    page.fill('input[name="current_password"]', current)
    page.fill('input[name="new_password"]', new)
    page.fill('input[name="confirm_password"]', again)
    page.click('#password-form button[type="submit"]')
    page.wait_for_load_state("networkidle")


def test_change_password_page_in_chromium(tmp_path):
    with running_service(tmp_path, images=1) as service, chromium() as browser:
        mine, elsewhere = browser.new_context(), browser.new_context()
        page, other = mine.new_page(), elsewhere.new_page()
        log_in(page, service.url, "alice")
        log_in(other, service.url, "alice")
        assert other.url.endswith("/jobs")

        page.click('nav a[href="/account/password"]')
        page.wait_for_selector("#password-form")
        assert page.title().startswith("Password")

        fill(page, "not my password", NEW, NEW)
        assert page.text_content("p.error") == "the current password is wrong"
        fill(page, PASSWORD, NEW, NEW + "!")
        assert page.text_content("p.error") == "the two new passwords differ"
        page.fill('input[name="current_password"]', PASSWORD)
        page.fill('input[name="new_password"]', "short")
        page.fill('input[name="confirm_password"]', "short")
        page.click('#password-form button[type="submit"]')  # the browser itself refuses a too-short password
        assert page.evaluate("document.querySelector('input[name=new_password]').validity.tooShort") is True
        assert page.locator("#changed").count() == 0

        fill(page, PASSWORD, NEW, NEW)
        assert "Your password was changed" in page.text_content("#changed")
        assert page.locator("p.error").count() == 0
        page.goto(f"{service.url}/jobs")  # this browser got a fresh session and carries on
        assert page.url.endswith("/jobs") and "alice" in page.text_content(".who")

        other.goto(f"{service.url}/jobs")  # the other browser's session ended with the old password
        assert "/login" in other.url
        other.fill('input[name="username"]', "alice")
        other.fill('input[name="password"]', PASSWORD)
        other.click('button[type="submit"]')
        other.wait_for_load_state("networkidle")
        assert other.text_content("p.error") == "wrong username or password"
        other.fill('input[name="username"]', "alice")
        other.fill('input[name="password"]', NEW)
        other.click('button[type="submit"]')
        other.wait_for_load_state("networkidle")
        assert other.url.endswith("/jobs")
