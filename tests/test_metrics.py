"""`GET /metrics`: scraped after a real conversation and handoff, in webhook mode and when polling.

Every label name and value must come from an allow-list: nothing that identifies a person,
a chat, a ticket or a place may reach a monitoring stack.
"""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, load_settings
from bot.metrics import ERROR_CLASSES, LIMITS, MESSAGE_KINDS, UPDATE_KINDS, Metrics, serving
from storage.outbox import WAITING
from tests.support.backends import Backend
from tests.support.fake_telegram.server import DEFAULT_TOKEN
from tests.support.handoff_fixtures import GROUPS, enrolled_directory, reference_on
from tests.support.stack import SECRET, running_stack
from tests.support.walks import walk_to_consent
from tests.test_webhook import free_port, running_webhook_stack

NAME, SURNAME, HANDLE, USER_ID = "Eudoxie", "Quarantotto", "zz_metrics_handle", 7_345_678_901
ALLOWED: dict[str, set[str] | None] = {
    "kind": set(UPDATE_KINDS),
    "message": set(MESSAGE_KINDS),
    "error_class": set(ERROR_CLASSES),
    "limit": set(LIMITS),
    "status": set(WAITING),
    "le": None,  # histogram bucket bounds: numbers, checked below
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: str) -> Samples:
    """Every sample, checked against the allow-list on the way."""
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        assert family.name.startswith("passerelle_"), family.name
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert label in ALLOWED, f"label {label!r} on {sample.name}"
                allowed = ALLOWED[label]
                if allowed is None:
                    assert value == "+Inf" or float(value) > 0, value
                else:
                    assert value in allowed, f"{label}={value!r} on {sample.name}"
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return await response.text()


async def test_metrics_after_a_conversation_and_a_handoff_over_the_webhook(
    backend: Backend, captured_logs: io.StringIO
) -> None:
    async with running_webhook_stack(backend, captured_logs) as hook:
        directory = await enrolled_directory(hook)
        user = hook.user(USER_ID, first_name=NAME, last_name=SURNAME, username=HANDLE)
        await walk_to_consent(user, "fr", postcode="75011")
        hook.fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=GROUPS["test-paris"])
        await user.press("Oui, envoyer")
        code = user.last()["text"].split("Votre code :")[1].split()[0]
        reference = reference_on(user)
        await hook.fake.wait_for(lambda: directory.notices("test-paris"), timeout=10)
        await directory.staff["test-paris"].press("Accepter")
        guesser = hook.user(USER_ID + 1, first_name=NAME)
        for attempt in range(6):  # the sixth is refused: too many tries
            await guesser.send(f"ABCD-EFGH-JK{'MNPQRS'[attempt]}2")
        assert "Trop d'essais" in guesser.last()["text"]
        await user.send("/exit")
        await hook.deletions_done()

        body = await scrape(hook.url + "/metrics")
        samples = parse(body)
        assert value(samples, "passerelle_handoffs_total") == 1
        assert value(samples, "passerelle_quick_exits_total") == 1
        assert value(samples, "passerelle_limit_hits_total", limit="code_guesses") == 1
        assert value(samples, "passerelle_limit_hits_total", limit="handoffs_per_day") == 0
        assert value(samples, "passerelle_updates_total", kind="message") >= 8
        assert value(samples, "passerelle_updates_total", kind="callback_query") >= 3, "presses, the staff's too"
        assert value(samples, "passerelle_update_errors_total", kind="message") == 0
        assert value(samples, "passerelle_handler_seconds_count", kind="message") == value(
            samples, "passerelle_updates_total", kind="message"
        )
        assert value(samples, "passerelle_outbox_failed_total", message="notice", error_class="rate_limited") == 1
        assert value(samples, "passerelle_outbox_sent_total", message="notice") == 1
        assert value(samples, "passerelle_outbox_given_up_total", message="notice", error_class="gone") == 0
        assert value(samples, "passerelle_outbox_backlog", status="pending") == 0
        assert value(samples, "passerelle_outbox_oldest_seconds", status="pending") == 0
        needles = (NAME, SURNAME, HANDLE, str(USER_ID), str(USER_ID + 1), "75011", "Paris", code, reference)
        for needle in (*needles, "test-paris", str(GROUPS["test-paris"]), SECRET, DEFAULT_TOKEN, "fr"):
            assert needle not in body, needle
        assert "GET /metrics 200" in captured_logs.getvalue()


async def test_the_outbox_gauges_are_read_at_scrape_time(backend: Backend, captured_logs: io.StringIO) -> None:
    """A notice that cannot leave (Telegram down): the backlog and its age show at the next scrape."""
    async with running_webhook_stack(backend, captured_logs) as hook:
        directory = await enrolled_directory(hook)
        hook.fake.fail_next("sendMessage", error_code=500, times=50, chat_id=GROUPS["test-paris"])
        user = hook.user(USER_ID)
        await walk_to_consent(user, "fr", postcode="75011")
        await user.press("Oui, envoyer")
        await hook.fake.wait_for(lambda: any(f.error_code == 500 for f in hook.fake.faults), timeout=10)
        samples = parse(await scrape(hook.url + "/metrics"))
        assert value(samples, "passerelle_outbox_backlog", status="pending") == 1
        assert value(samples, "passerelle_outbox_oldest_seconds", status="pending") >= 0
        assert value(samples, "passerelle_outbox_failed_total", message="notice", error_class="transient") >= 1
        assert directory.notices("test-paris") == []


async def test_an_update_whose_handler_raised_is_counted_once(backend: Backend, captured_logs: io.StringIO) -> None:
    """What docs/monitoring.md says of `passerelle_update_errors_total`, over the webhook: the
    update is counted as an error, and the bot answers Telegram 200 (the error handler logged
    it and tried to apologise), so Telegram does not send it again."""
    async with running_webhook_stack(backend, captured_logs) as hook:
        user = hook.user(USER_ID)
        await user.send("/start")
        hook.fake.fail_next("editMessageText", error_code=500)
        hook.fake.fail_next("sendMessage", error_code=500)
        update = await user.press("J'ai compris")
        assert "update failed: TelegramServerError" in captured_logs.getvalue()
        samples = parse(await scrape(hook.url + "/metrics"))
        assert value(samples, "passerelle_update_errors_total", kind="callback_query") == 1
        assert value(samples, "passerelle_updates_total", kind="callback_query") == 1, "delivered once"
        assert [f for f in hook.fake.webhook_failures if f.update_id == update["update_id"]] == []


async def test_metrics_port_serves_when_polling(backend: Backend, captured_logs: io.StringIO) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    async with running_stack(backend, captured_logs, metrics_port=port) as stack:
        await stack.user(USER_ID, first_name=NAME).send("/start")
        samples = parse(await scrape(url))
        assert value(samples, "passerelle_updates_total", kind="message") == 1, "this App's own registry"
        assert value(samples, "passerelle_handoffs_total") == 0
    with pytest.raises(aiohttp.ClientConnectionError):  # stopped with the App
        await scrape(url)


async def test_without_metrics_port_nothing_listens(backend: Backend, captured_logs: io.StringIO) -> None:
    async with running_stack(backend, captured_logs) as stack:
        assert stack.app.settings.metrics_port is None
        assert "metrics on" not in captured_logs.getvalue()


async def test_a_metrics_port_in_use_is_a_one_line_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^METRICS_PORT: cannot listen on 127.0.0.1:{port} \(") as raised:
            async with serving(Metrics(), None, port):  # type: ignore[arg-type]  # never scraped
                pass
    assert "\n" not in str(raised.value)


def test_metrics_port_is_checked() -> None:
    base = {"bot_token": DEFAULT_TOKEN, "passerelle_secret": SECRET}
    assert load_settings(**base).metrics_port is None
    assert load_settings(**base, metrics_port="").metrics_port is None
    assert load_settings(**base, metrics_port="9464").metrics_port == 9464
    for bad in ("abc", "0", "70000", "94 64"):
        with pytest.raises(ConfigError, match="^METRICS_PORT is invalid: ") as raised:
            load_settings(**base, metrics_port=bad)
        assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match="WEBHOOK_URL is invalid: /metrics is the metrics"):
        load_settings(**base, webhook_url="https://bot.example.org/metrics")


def test_each_metrics_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.handoffs.inc()
    assert one.registry is not two.registry
    assert two.registry.get_sample_value("passerelle_handoffs_total") == 0
    one.failed("something new", "surprise")  # an unknown value is counted as "other", never as itself
    assert one.registry.get_sample_value("passerelle_outbox_failed_total", {"message": "other", "error_class": "other"})


def test_the_documented_scrape_config_and_rules_use_our_metrics() -> None:
    """docs/monitoring.md's YAML parses, has the three alerts, and names only metrics that exist."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "monitoring.md").read_text()
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL)]
    config, rules = blocks
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
    alerts = {rule["alert"]: rule["expr"] for rule in rules["groups"][0]["rules"]}
    assert set(alerts) == {"PasserelleOutboxStuck", "PasserelleAssociationUnreachable", "PasserelleErrorRate"}
    metrics = Metrics()
    metrics.outbox_backlog.labels("pending").set(0)
    metrics.outbox_oldest_seconds.labels("pending").set(0)
    families = list(metrics.registry.collect())
    exposed = {s.name for family in families for s in family.samples} | {
        f.name for f in families if f.type == "histogram"
    }
    named = set(re.findall(r"passerelle_\w+", docs))
    assert named <= exposed, named - exposed
    for expr in alerts.values():
        for label, _ in re.findall(r"(\w+)=~?\"([^\"]*)\"", expr):
            assert label in ALLOWED, label
