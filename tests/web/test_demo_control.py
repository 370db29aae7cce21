"""The demo control page (issue 17 item 7) in a real browser against a real
`siaga demo`: a visitor presses a box's button and the case appears in the
case flow; a box whose IP link is cut on the page still gets its case to the
centre (by SMS over the simulated GSM network); breaking a part makes the
box's self-test fail and name it; the panel rings from a number of one's
choice. The scenario is slowed to one event in ten minutes so every case
here is the visitor's own. One test, four steps: one demo start serves them
all (the suite runs tests on parallel workers, which would start one demo
per test)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from central.broker.files import broker_tempdir
from central.broker.process import free_port

SHOTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def demo():
    base = broker_tempdir(prefix="siaga-demo-control-")  # its broker drops to user mosquitto as root
    state = base / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "demo", "--duration", "600", "--interval", "600",
         "--state", str(state), "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "demo berjalan / is running" in line:
                break
        else:
            raise AssertionError("".join(lines)[-3000:])
        for line in proc.stdout:  # the summary block follows
            lines.append(line)
            if "Kendali demo" in line:
                break
        url = re.search(r"Kendali demo\s*:\s*(\S+)", "".join(lines))
        assert url, "".join(lines)[-3000:]
        # keep reading its progress lines so the pipe never fills
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        yield url.group(1)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"h17-{name}.png"), full_page=True)


def _press(page, device: str, button: str) -> str:
    """Press on the page; returns the incident id the box recorded."""
    page.locator("#result").evaluate("n => n.textContent = ''")
    page.locator(f"[data-unit='{device}'] button[data-button='{button}']").click()
    page.wait_for_function("() => document.querySelector('#result').textContent !== ''")
    result = page.locator("#result").text_content()
    m = re.search(r"recorded (\w{26})", result)
    assert m, result
    return m.group(1)


def press_a_box_button_and_watch_the_case(page) -> None:
    page.locator("[data-unit='box-taman-001'] button[data-button='fire']").wait_for()
    case = _press(page, "box-taman-001", "fire")
    row = page.locator(f"#cases tr[data-id='{case}']")
    row.wait_for(timeout=30_000)
    assert "Tombol kotak" in row.text_content() and "Kebakaran" in row.text_content()
    # the stand-in Damkar takes it on: the status moves past "received" without anyone here
    page.wait_for_function(
        f"() => !!document.querySelector(\"#cases tr[data-id='{case}'] .badge\") && "
        f"!document.querySelector(\"#cases tr[data-id='{case}'] .badge\").textContent.startsWith('Masuk')",
        timeout=60_000)
    # the box's green LED: the gateway acknowledged
    page.wait_for_selector("[data-unit='box-taman-001'] .led.on[data-led='delivered']", timeout=30_000)
    _shot(page, "demo-control")


def a_box_cut_from_ip_still_reaches_the_centre_by_sms(page) -> None:
    card = "[data-unit='box-kartoharjo-002']"
    page.locator(f"{card} button[data-act='ip']").click()
    page.wait_for_selector(f"{card} button[data-act='ip'][aria-pressed='true']")
    status = f"() => document.querySelector(\"{card} .status\").textContent.includes"
    page.wait_for_function(f"{status}('IP diputus')")
    case = _press(page, "box-kartoharjo-002", "medical")
    row = page.locator(f"#cases tr[data-id='{case}']")
    row.wait_for(timeout=90_000)  # SMS after the unit's wait (10 s in the demo) and the network's delay
    assert row.text_content().startswith(row.locator("td").first.text_content())
    assert "SMS" in row.text_content()
    assert page.locator("#sms-log").text_content().count("+6281100000002") >= 1
    _shot(page, "demo-control-ip-cut")
    page.locator(f"{card} button[data-act='ip']").click()  # IP back: the MQTT copy merges, no second case
    page.wait_for_function(f"{status}('IP terhubung')", timeout=60_000)
    assert page.locator(f"#cases tr[data-id='{case}']").count() == 1


def a_broken_part_fails_the_self_test_by_name(page) -> None:
    card = "[data-unit='box-manguharjo-003']"
    page.locator(f"{card} button[data-part='buzzer']").click()
    page.wait_for_selector(f"{card} button[data-part='buzzer'][aria-pressed='true']")
    page.locator(f"{card} button[data-act='selftest']").click()
    page.wait_for_selector(f"{card} .selftest", timeout=60_000)
    assert "GAGAL" in page.locator(f"{card} .selftest").text_content()
    assert "buzzer" in page.locator(f"{card} .selftest").text_content()
    _shot(page, "demo-control-selftest")


def ring_the_panel_from_a_number(page) -> None:
    panel = "[data-unit='panel-desk-01']"
    page.locator(f"{panel} button[data-button='answer']").wait_for()
    # the boxes' dial-outs of the steps before may still ring the panel: take and end them first
    for _ in range(5):
        if page.locator(f"{panel} .ringing").count() == 0:
            break
        page.locator(f"{panel} button[data-button='answer']").click()
        page.wait_for_selector(f"{panel} .led.on[data-led='active']", timeout=30_000)
        page.locator(f"{panel} button[data-button='hangup']").click()
        page.wait_for_selector(f"{panel} .led.on[data-led='active']", state="detached", timeout=30_000)
    page.locator("#ring-from").fill("+6281299990000")
    page.locator("#ring").click()
    ringing = f"document.querySelector(\"{panel} .ringing\")"
    page.wait_for_function(f"() => ({ringing} || {{}}).textContent?.includes('+6281299990000')",
                           timeout=30_000)
    page.locator(f"{panel} button[data-button='answer']").click()
    page.wait_for_selector(f"{panel} .led.on[data-led='active']", timeout=30_000)
    page.locator(f"{panel} button[data-button='hangup']").click()
    page.wait_for_selector(f"{panel} .led.on[data-led='active']", state="detached", timeout=30_000)
    page.locator(f"{panel} button[data-button='cat_accident']").click()  # the operator classifies it
    row = page.locator("#cases tr", has_text="+6281299990000")
    row.wait_for(timeout=60_000)
    assert "Telepon 112" in row.text_content() and "Kecelakaan" in row.text_content()
    _shot(page, "demo-control-panel-call")
    # a bad number is refused with the reason, not sent
    page.locator("#ring-from").fill("not-a-number")
    page.locator("#ring").click()
    page.wait_for_function("() => document.querySelector('#result').className === 'error'")
    assert "nomor tidak sah" in page.locator("#result").text_content()


def test_a_visitor_follows_cases_by_hand(demo, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(demo)
    try:
        press_a_box_button_and_watch_the_case(page)
        a_box_cut_from_ip_still_reaches_the_centre_by_sms(page)
        a_broken_part_fails_the_self_test_by_name(page)
        ring_the_panel_from_a_number(page)
    finally:
        page.close()
