"""The administration Web UI (/ui/ on the admin listener) in a real browser:
Debian's headless Chromium driven through chromedriver. A security reviewer
approves a pending endpoint; a city administrator edits a routing rule and
sees the "try a call" decision change, creates and edits an endpoint and a
user through the forms; the API and the stored state agree with what the
page said. Errors from the API appear on the page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from test_admin_api import api, login, users_add

try:
    from selenium import webdriver
except ImportError as e:  # a missing peer fails, as the other tests' tools do
    raise ImportError(f"{e}: pip install -r interop-tests/requirements.txt "
                      f"(scripts/test-all.sh does)") from e
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 20.0

ADMIN = ("ui-admin", "mật khẩu quản trị 2025")
REVIEWER = ("ui-reviewer", "mật khẩu thẩm định 2025")


@pytest.fixture
def browser(tmp_path):
    for path, pkg in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")]:
        if not Path(path).exists():
            pytest.fail(f"{path} not found: apt-get install -y {pkg} (scripts/test-all.sh does)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # As root on a closed network: no sandbox, and nothing that phones home
    # (Chromium otherwise waits on those connections).
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        opts.add_argument(arg)
    # The page's console goes into failure messages.
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Selenium Manager would look for drivers on the network: the path is given.
    os.environ["SE_OFFLINE"] = "true"
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            proc = getattr(service, "process", None)
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def wait(driver, cond, what: str):
    try:
        return WebDriverWait(driver, WAIT).until(cond)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        try:
            console = "\n".join(e["message"] for e in driver.get_log("browser"))
        except Exception as e:  # the log is a diagnostic, not the failure
            console = f"<no console log: {e}>"
        raise AssertionError(f"{what} within {WAIT}s; the page says:\n{body[:3000]}\n"
                             f"--- browser console ---\n{console[-3000:]}") from None


def text_in(driver, selector: str, text: str, what: str):
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, selector), text), what)
    return driver.find_element(By.CSS_SELECTOR, selector).text


def shot(driver, tmp_path, name: str):
    """Screenshots for a person to look at (UI_SCREENSHOT_DIR keeps them)."""
    out = Path(os.environ.get("UI_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out / f"{name}.png"))


def set_lang(driver, lang: str):
    driver.find_element(By.CSS_SELECTOR, f".lang .lang-{lang}").click()
    wait(driver, lambda d: d.execute_script("return document.documentElement.lang") == lang,
         f"the page switched to {lang}")


def ui_login(driver, gw, user: str, password: str):
    driver.get(f"http://127.0.0.1:{gw.admin_port}/ui/")
    wait(driver, EC.element_to_be_clickable((By.ID, "login-user")), "the login form")
    driver.find_element(By.ID, "login-user").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait(driver, EC.presence_of_element_located((By.ID, "logout")), f"{user} logged in")


def ui_logout(driver):
    driver.find_element(By.ID, "logout").click()
    wait(driver, EC.presence_of_element_located((By.ID, "login-user")), "back on the login form")


def go(driver, gw, fragment: str):
    driver.get(f"http://127.0.0.1:{gw.admin_port}/ui/#/{fragment}")


def try_call(driver, caller: str, target: str) -> str:
    for field, value in [("try-caller", caller), ("try-target", target)]:
        el = driver.find_element(By.ID, field)
        el.clear()
        el.send_keys(value)
    old = driver.find_elements(By.CSS_SELECTOR, "#route-result > *")
    driver.find_element(By.ID, "try-submit").click()
    if old:
        wait(driver, EC.staleness_of(old[0]), "the previous answer replaced")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#route-result .decision, #route-result .problem"),
         "an answer to the try-a-call box")
    return driver.find_element(By.ID, "route-result").text


def new_endpoint(gw, token, ep_id: str, unit: dict) -> dict:
    status, body = api(gw, "POST", "/api/v1/endpoints", token, {
        "id": ep_id,
        "unit": unit,
        "protocol": "sip",
        "display": f"Phòng họp trực tuyến {ep_id}",
        "numbers": [ep_id],
        "credentials": {"password": f"secret-{ep_id}-pw"},
        "contacts": {"technical_officer": {"name": "Nguyễn Thị Hà", "phone": "0243 825 1234"}},
    })
    assert status == 201, f"creating endpoint {ep_id} answered {status}: {body}"
    assert body["vetting"]["state"] == "pending", body["vetting"]
    return body


def test_ui_is_embedded_and_says_404_for_unknown_files(gateway):
    status, html = gateway.http_get("/ui/")
    assert status == 200 and '<script type="module" src="app.js">' in html, (status, html[:300])
    assert "http://" not in html and "https://" not in html, "the page loads something from elsewhere"
    status, js = gateway.http_get("/ui/i18n.js")
    assert status == 200 and "Đăng nhập" in js, status
    assert gateway.http_get("/ui/no-such-file.js")[0] == 404
    # The API keeps its own problem details next to the UI.
    assert gateway.http_get("/api/v1/nope")[0] == 404


def test_reviewer_approves_and_admin_changes_a_rule_in_the_browser(gateway_factory, browser, tmp_path):
    gw = gateway_factory()
    for (name, pw), role in [(ADMIN, "city-admin"), (REVIEWER, "security-reviewer")]:
        rc, out, err = users_add(gw, name, role, pw)
        assert rc == 0, f"users add {name}: exit {rc}\n{out}\n{err}"
    gw.start()
    admin = login(gw, *ADMIN)
    status, ep1001 = api(gw, "GET", "/api/v1/endpoints/1001", admin)
    assert status == 200, (status, ep1001)
    unit = ep1001["unit"]
    new_endpoint(gw, admin, "7701", unit)
    new_endpoint(gw, admin, "7702", unit)

    d = browser
    # A wrong password: the API's problem is on the page, in Vietnamese.
    d.get(f"http://127.0.0.1:{gw.admin_port}/ui/")
    wait(d, EC.element_to_be_clickable((By.ID, "login-user")), "the login form")
    set_lang(d, "vi")
    assert "Đăng nhập quản trị" in d.find_element(By.TAG_NAME, "h1").text
    d.find_element(By.ID, "login-user").send_keys(REVIEWER[0])
    d.find_element(By.ID, "login-password").send_keys("sai mật khẩu")
    d.find_element(By.ID, "login-submit").click()
    problem = text_in(d, ".problem", "401", "the refused login shown")
    assert "Lỗi 401 — Chưa xác thực" in problem, problem
    shot(d, tmp_path, "login-vi")

    # ---- the security reviewer approves 7701 from the queue
    ui_login(d, gw, *REVIEWER)
    go(d, gw, "vetting")
    card = wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, '.vet[data-id="7701"]')),
                "7701 in the vetting queue")
    assert "Chờ duyệt" in card.text and "Nguyễn Thị Hà" in card.text, card.text
    shot(d, tmp_path, "vetting-vi")
    d.find_element(By.ID, "reason-7701").send_keys("Đã kiểm tra thiết bị tại chỗ")
    d.find_element(By.ID, "approve-7701").click()
    text_in(d, "#view", "Đã duyệt điểm cầu 7701.", "the approval confirmed")
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, '.vet[data-id="7702"]')), "7702 still queued")
    assert not d.find_elements(By.CSS_SELECTOR, '.vet[data-id="7701"]'), "7701 still in the queue"

    status, ep = api(gw, "GET", "/api/v1/endpoints/7701", admin)
    assert status == 200 and ep["vetting"]["state"] == "approved", ep
    assert ep["vetting"]["by"] == REVIEWER[0], ep["vetting"]
    assert ep["vetting"]["reason"] == "Đã kiểm tra thiết bị tại chỗ", ep["vetting"]
    status, audit = api(gw, "GET", "/api/v1/audit?object_kind=endpoint&object_id=7701", admin)
    assert status == 200 and any(r["actor"] == REVIEWER[0] and "approv" in r["action"] for r in audit), audit
    status, ep = api(gw, "GET", "/api/v1/endpoints/7702", admin)
    assert ep["vetting"]["state"] == "pending", ep

    # The audit screen shows the approval.
    go(d, gw, "audit?object_kind=endpoint&object_id=7701")
    text_in(d, "#audit", REVIEWER[0], "the approval in the audit log")
    # A reviewer reads endpoints but is offered no form to change them.
    go(d, gw, "endpoints")
    text_in(d, "#endpoints", "7701", "the endpoint list for a reviewer")
    no_placeholders(d)
    assert not d.find_elements(By.ID, "endpoint-new"), "a reviewer was offered to create endpoints"
    go(d, gw, "endpoints/7701")
    text_in(d, "#view", "Nguyễn Thị Hà", "7701's page for a reviewer")
    assert not d.find_elements(By.ID, "endpoint-edit"), "a reviewer was offered to edit an endpoint"
    ui_logout(d)

    # ---- a city administrator sees the queue without actions
    ui_login(d, gw, *ADMIN)
    go(d, gw, "vetting")
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, '.vet[data-id="7702"]')), "7702 queued")
    assert d.find_elements(By.ID, "vetting-readonly"), "no read-only hint for a city-admin"
    assert not d.find_elements(By.ID, "approve-7702"), "a city-admin was offered to approve"

    # ---- endpoints list and detail
    go(d, gw, "endpoints")
    rows = text_in(d, "#endpoints", "7701", "the endpoint list")
    assert "1001" in rows and "Đã duyệt" in rows, rows
    shot(d, tmp_path, "endpoints-vi")
    go(d, gw, "endpoints/7702")
    page = text_in(d, "#view", "Nguyễn Thị Hà", "7702's contact on its page")
    assert "null" not in page and "undefined" not in page, page
    shot(d, tmp_path, "endpoint-vi")

    # ---- meetings and trunks of the current dialplan
    go(d, gw, "meetings")
    meetings = text_in(d, "#meetings", "8001", "the meetings table")
    assert "Tối mật" in meetings and "Loopback recorded meeting" in meetings, meetings
    go(d, gw, "trunks")
    trunks = text_in(d, "#trunks", "loopback-trunk", "the trunks table")
    assert "127.0.0.1/32" in trunks, trunks

    # ---- try a call, edit the rule, try again
    go(d, gw, "rules")
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-rule="loopback-out"]')),
         "the rules table")
    # A target the API refuses: its problem (422, field) is shown.
    wrong = try_call(d, "1001", "9" * 300)
    assert "422" in wrong and "target" in wrong, wrong
    assert d.find_elements(By.CSS_SELECTOR, "#route-result .problem"), wrong

    before = try_call(d, "1001", "0912345678")
    assert "loopback-trunk" in before and "loopback-out" in before, before
    assert d.find_elements(By.CSS_SELECTOR, "#route-result .decision-ok"), before
    shot(d, tmp_path, "rules-vi")

    status, versions = api(gw, "GET", "/api/v1/versions", admin)
    assert status == 200 and versions["current"] is not None, versions
    v_before = versions["current"]

    d.find_element(By.CSS_SELECTOR, 'button[data-edit="loopback-out"]').click()
    editor = wait(d, EC.presence_of_element_located((By.ID, "rule-text")), "the rule editor")
    wait(d, lambda _: "loopback-out" in editor.get_attribute("value"), "the rule's TOML in the editor")
    block = editor.get_attribute("value")
    assert block.startswith("[[rule]]") and 'trunk = "loopback-trunk"' in block, block
    assert "[[trunk]]" not in block and "[[meeting]]" not in block, block

    # An invalid edit: the dialplan's problems are listed, nothing stored.
    editor.clear()
    editor.send_keys(block.replace('action = "trunk"', 'action = "explode"'))
    d.find_element(By.ID, "rule-check").click()
    issues = text_in(d, "#editor-output .problem", "explode", "the dialplan problems shown")
    assert "422" in issues, issues

    edited = block.replace('action = "trunk"\ntrunk = "loopback-trunk"',
                           'action = "reject"\nstatus = 403\nreason = "Cấm gọi ra ngoài"')
    assert edited != block, block
    editor.clear()
    editor.send_keys(edited)
    d.find_element(By.ID, "rule-check").click()
    diff = text_in(d, "#editor-output .diff", '+action = "reject"', "the dry-run diff")
    assert '-action = "trunk"' in diff, diff
    shot(d, tmp_path, "editor-vi")
    status, versions = api(gw, "GET", "/api/v1/versions", admin)
    assert versions["current"] == v_before, "the dry run stored a version"

    d.find_element(By.ID, "rule-save").click()
    text_in(d, "#view", f"Đã lưu và áp dụng phiên bản {v_before + 1}.", "the new version confirmed")
    # The page tries the last call again on the new version.
    after = text_in(d, "#route-result", "403", "the decision after the edit")
    assert "Cấm gọi ra ngoài" in after and "loopback-out" in after, after
    assert d.find_elements(By.CSS_SELECTOR, "#route-result .decision-reject"), after
    after = try_call(d, "1001", "0912345678")
    assert "403" in after and "loopback-out" in after, after
    shot(d, tmp_path, "rules-after-vi")

    status, versions = api(gw, "GET", "/api/v1/versions", admin)
    assert versions["current"] == v_before + 1, versions
    status, v = api(gw, "GET", f"/api/v1/versions/{v_before + 1}", admin)
    assert 'reason = "Cấm gọi ra ngoài"' in v["source"], v["source"]
    assert "[[trunk]]" in v["source"] and 'name = "loopback-trunk"' in v["source"], "the rest of the file lost"
    status, answer = api(gw, "POST", "/api/v1/route", admin, {"caller": "1001", "target": "0912345678"})
    assert status == 200 and answer["outcome"]["kind"] == "reject", answer
    assert answer["outcome"]["status"] == 403, answer

    # ---- English
    set_lang(d, "en")
    text_in(d, "h1", "Routing rules", "the rules screen in English")
    text_in(d, "nav", "Security vetting", "the menu in English")
    after = try_call(d, "1001", "0912345678")
    assert "Rejected: 403" in after and "Decided by rule: loopback-out" in after, after
    shot(d, tmp_path, "rules-en")
    go(d, gw, "units")
    text_in(d, "#unit-tree", "Hà Nội", "the unit tree")
    shot(d, tmp_path, "units-en")
    go(d, gw, "audit")
    text_in(d, "#audit", "ui-admin", "the audit log in English")
    shot(d, tmp_path, "audit-en")


def fill(driver, fields: dict):
    """Types into inputs by id (cleared first); select elements by value."""
    for id_, value in fields.items():
        el = driver.find_element(By.ID, id_)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def no_placeholders(driver):
    page = driver.find_element(By.ID, "view").text
    for word in ("null", "undefined", "[object"):
        assert word not in page, f"{word!r} on the page:\n{page[:3000]}"


def submit_and_expect_problem(driver, button: str, *texts: str) -> str:
    old = driver.find_elements(By.CSS_SELECTOR, "form .msg .problem")
    driver.find_element(By.ID, button).click()
    if old:
        wait(driver, EC.staleness_of(old[0]), "the previous problem replaced")
    problem = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "form .msg .problem")),
                   "the refusal shown on the form").text
    for text in texts:
        assert text in problem, problem
    return problem


def test_admin_creates_and_edits_an_endpoint_and_a_user_with_the_forms(gateway_factory, browser, tmp_path):
    gw = gateway_factory()
    rc, out, err = users_add(gw, ADMIN[0], "city-admin", ADMIN[1])
    assert rc == 0, f"users add: exit {rc}\n{out}\n{err}"
    gw.start()
    admin = login(gw, *ADMIN)
    status, ep1001 = api(gw, "GET", "/api/v1/endpoints/1001", admin)
    assert status == 200, (status, ep1001)
    unit = ep1001["unit"]
    unit_key = f"{unit['structure']}/{unit['code']}"

    d = browser
    ui_login(d, gw, *ADMIN)
    set_lang(d, "vi")

    # ---- a new endpoint through the form
    go(d, gw, "endpoints")
    wait(d, EC.element_to_be_clickable((By.ID, "endpoint-new")), "the new-endpoint button").click()
    wait(d, EC.presence_of_element_located((By.ID, "ep-form-id")), "the endpoint form")
    no_placeholders(d)
    fill(d, {
        "ep-form-id": "7801",
        "ep-form-unit": "không có đơn vị này",
        "ep-form-display": "Phòng họp UBND phường",
        "ep-form-protocol": "sip",
        "ep-form-numbers": "7801, 7802",
        "ep-form-aliases": "phong-hop-7801",
        "ep-form-password": "mật khẩu SIP 7801",
        "ep-form-office-lead-name": "Trần Văn Bình",
        "ep-form-office-lead-phone": "0243 825 0001",
        "ep-form-technical-officer-name": "Nguyễn Thị Hà",
        "ep-form-technical-officer-email": "ha.nt@hanoi.gov.vn",
    })
    # A unit the form does not know is refused before anything is sent.
    submit_and_expect_problem(d, "ep-form-submit", "Không nhận ra đơn vị", "unit")
    assert d.find_element(By.ID, "ep-form-unit").get_attribute("aria-invalid") == "true"
    assert api(gw, "GET", "/api/v1/endpoints/7801", admin)[0] == 404
    # A number another endpoint holds: the API's 409 is on the page.
    fill(d, {"ep-form-unit": unit_key, "ep-form-numbers": f"7801, {ep1001['numbers'][0]}"})
    submit_and_expect_problem(d, "ep-form-submit", "409")
    assert api(gw, "GET", "/api/v1/endpoints/7801", admin)[0] == 404
    fill(d, {"ep-form-numbers": "7801, 7802"})
    d.find_element(By.ID, "ep-form-submit").click()
    text_in(d, "#view", "Đã tạo điểm cầu 7801", "the creation confirmed")
    text_in(d, "h1", "7801 — Phòng họp UBND phường", "the new endpoint's page")
    shot(d, tmp_path, "endpoint-created-vi")

    status, ep = api(gw, "GET", "/api/v1/endpoints/7801", admin)
    assert status == 200, (status, ep)
    assert ep["unit"] == unit, ep["unit"]
    assert ep["display"] == "Phòng họp UBND phường", ep
    assert ep["protocol"] == "sip" and ep["numbers"] == ["7801", "7802"], ep
    assert ep["aliases"] == ["phong-hop-7801"], ep
    assert ep["credentials"] and ep["credentials"]["forms"], ep["credentials"]
    assert ep["vetting"]["state"] == "pending", ep["vetting"]
    assert ep["contacts"]["office_lead"]["name"] == "Trần Văn Bình", ep["contacts"]
    assert ep["contacts"]["office_lead"]["phone"] == "0243 825 0001", ep["contacts"]
    assert ep["contacts"]["technical_officer"]["email"] == "ha.nt@hanoi.gov.vn", ep["contacts"]
    status, audit = api(gw, "GET", "/api/v1/audit?object_kind=endpoint&object_id=7801", admin)
    assert status == 200 and [r["action"] for r in audit] == ["endpoint.create"], audit
    assert audit[0]["actor"] == ADMIN[0], audit

    # ---- and changed through it: only what differs is sent
    d.find_element(By.ID, "endpoint-edit").click()
    display = wait(d, EC.presence_of_element_located((By.ID, "ep-form-display")), "the edit form")
    wait(d, lambda _: display.get_attribute("value") == "Phòng họp UBND phường", "the form filled in")
    assert d.find_element(By.ID, "ep-form-id").get_attribute("disabled") is not None
    no_placeholders(d)
    fill(d, {
        "ep-form-display": "Phòng họp trực tuyến phường",
        "ep-form-numbers": "7801",
        "ep-form-technical-officer-name": "Lê Văn Cường",
        "ep-form-technical-officer-email": "",
    })
    d.find_element(By.ID, "ep-form-submit").click()
    text_in(d, "#view", "Đã lưu thay đổi của điểm cầu 7801", "the change confirmed")
    status, ep2 = api(gw, "GET", "/api/v1/endpoints/7801", admin)
    assert ep2["display"] == "Phòng họp trực tuyến phường" and ep2["numbers"] == ["7801"], ep2
    assert ep2["aliases"] == ep["aliases"] and ep2["unit"] == unit, ep2
    assert ep2["credentials"] == ep["credentials"], "an empty password field changed the credentials"
    assert ep2["contacts"]["office_lead"] == ep["contacts"]["office_lead"], ep2["contacts"]
    officer = ep2["contacts"]["technical_officer"]
    assert officer["name"] == "Lê Văn Cường" and officer["email"] is None, officer
    replaced = [c for c in ep2["contact_history"] if c["name"] == "Nguyễn Thị Hà"]
    assert replaced and replaced[0]["until_unix"] is not None, ep2["contact_history"]
    status, audit = api(gw, "GET", "/api/v1/audit?object_kind=endpoint&object_id=7801", admin)
    assert [r["action"] for r in audit] == ["endpoint.update", "endpoint.create"], audit
    # Saving the unchanged form sends nothing.
    d.find_element(By.ID, "endpoint-edit").click()
    wait(d, EC.presence_of_element_located((By.ID, "ep-form-display")), "the edit form again")
    d.find_element(By.ID, "ep-form-submit").click()
    text_in(d, "form .msg", "Không có thay đổi", "nothing to save")
    assert len(api(gw, "GET", "/api/v1/audit?object_kind=endpoint&object_id=7801", admin)[1]) == 2

    # ---- users: create one through the form
    go(d, gw, "users")
    wait(d, EC.presence_of_element_located((By.ID, "user-new-form")), "the new-user form")
    assert not d.find_elements(By.CSS_SELECTOR, f'button[data-edit-user="{ADMIN[0]}"]'), \
        "the page offers to change one's own account"
    fill(d, {
        "user-new-name": "ui-operator",
        "user-new-password": "ngắn",
        "user-new-role": "operator",
        "user-new-unit": unit_key,
    })
    # Too short a password: the API's 422 names the field, nothing is made.
    submit_and_expect_problem(d, "user-new-submit", "422", "password")
    assert d.find_element(By.ID, "user-new-password").get_attribute("aria-invalid") == "true"
    status, users = api(gw, "GET", "/api/v1/users", admin)
    assert "ui-operator" not in [u["name"] for u in users], users
    fill(d, {"user-new-password": "mật khẩu điều hành 2025"})
    d.find_element(By.ID, "user-new-submit").click()
    text_in(d, "#view", "Đã tạo người dùng ui-operator.", "the user creation confirmed")
    row = text_in(d, 'tr[data-user="ui-operator"]', "Điều hành viên", "the new user's row")
    assert "Đang hoạt động" in row, row
    no_placeholders(d)
    shot(d, tmp_path, "users-vi")
    status, users = api(gw, "GET", "/api/v1/users", admin)
    made = {u["name"]: u for u in users}["ui-operator"]
    assert made["role"] == "operator" and made["unit"] == unit and not made["disabled"], made
    assert made["created_by"] == ADMIN[0], made
    operator = login(gw, "ui-operator", "mật khẩu điều hành 2025")
    assert api(gw, "GET", "/api/v1/endpoints/7801", operator)[0] == 200

    # ---- then made an auditor and disabled
    d.find_element(By.CSS_SELECTOR, 'button[data-edit-user="ui-operator"]').click()
    wait(d, EC.presence_of_element_located((By.ID, "user-edit-role")), "the user editor")
    assert d.find_element(By.ID, "user-edit-unit").get_attribute("value") == unit_key
    fill(d, {"user-edit-role": "auditor"})
    d.find_element(By.ID, "user-edit-disabled").click()
    d.find_element(By.ID, "user-edit-save").click()
    text_in(d, "#view", "Đã lưu thay đổi của người dùng ui-operator.", "the user change confirmed")
    row = text_in(d, 'tr[data-user="ui-operator"]', "Đã khóa", "the user shown disabled")
    assert "Kiểm tra viên" in row, row
    status, users = api(gw, "GET", "/api/v1/users", admin)
    changed = {u["name"]: u for u in users}["ui-operator"]
    assert changed["role"] == "auditor" and changed["disabled"] and changed["unit"] == unit, changed
    # Disabled at once: its token no longer works, nor its password.
    assert api(gw, "GET", "/api/v1/endpoints/7801", operator)[0] == 401
    status, _ = api(gw, "POST", "/api/v1/session",
                    body={"user": "ui-operator", "password": "mật khẩu điều hành 2025"})
    assert status == 401
    status, audit = api(gw, "GET", "/api/v1/audit?object_kind=user&object_id=ui-operator", admin)
    assert [r["action"] for r in audit] == ["user.update", "user.create"], audit
    assert audit[0]["before"]["role"] == "operator" and audit[0]["after"]["disabled"] is True, audit[0]

    set_lang(d, "en")
    text_in(d, "h1", "Users", "the users screen in English")
    text_in(d, 'tr[data-user="ui-operator"]', "Disabled", "the state in English")
    shot(d, tmp_path, "users-en")


SPLICE_SOURCE = """[gateway]
realm = "x"

# the first rule
[[rule]]
name = "a"
match = { prefix = "1" }
action = "reject"
status = 403
reason = "[[rule]] in a string"

# about the trunk below
[[trunk]]
name = "t"
note = \"\"\"
[[rule]]
\"\"\"

[[rule]]
name = 'b'
match = { exact = "2" }
"""


def test_rule_blocks_keep_the_rest_of_the_file(gateway, browser):
    """The editor's splicing (dialplan.js), run in the browser: a rule's
    table ends before the comment describing the next table, a header-like
    line inside a multi-line string is not a table, and replacing or
    deleting one rule leaves every other byte as it was."""
    browser.get(f"http://127.0.0.1:{gateway.admin_port}/ui/")
    wait(browser, EC.presence_of_element_located((By.ID, "login-user")), "the page loaded")
    got = browser.execute_async_script(r"""
        const [src, done] = arguments;
        import("./dialplan.js").then((m) => {
            const blocks = m.ruleBlocks(src);
            const a = m.findRule(src, 0, "a");
            const b = m.findRule(src, 5, "b");
            done({
                names: blocks.map((x) => x.name),
                a: m.blockText(src, a),
                replaced: m.replaceBlock(src, a, '[[rule]]\nname = "a2"'),
                deleted: m.replaceBlock(src, b, ""),
                appended: m.appendBlock(src, m.NEW_RULE_TEMPLATE),
            });
        }, (e) => done({ error: String(e) }));
    """, SPLICE_SOURCE)
    assert "error" not in got, got
    assert got["names"] == ["a", "b"], got
    assert got["a"].startswith("[[rule]]") and got["a"].endswith('reason = "[[rule]] in a string"'), got["a"]
    assert "# about the trunk below" not in got["a"], got["a"]
    a_lines = "\n".join(SPLICE_SOURCE.split("\n")[4:10])
    assert got["replaced"] == SPLICE_SOURCE.replace(a_lines, '[[rule]]\nname = "a2"'), got["replaced"]
    assert "name = 'b'" not in got["deleted"] and "[[trunk]]" in got["deleted"], got["deleted"]
    assert got["deleted"].startswith(SPLICE_SOURCE.split("[[rule]]\nname = 'b'")[0]), got["deleted"]
    assert got["appended"].startswith(SPLICE_SOURCE.rstrip()) and got["appended"].endswith('reason = "Forbidden"\n')
