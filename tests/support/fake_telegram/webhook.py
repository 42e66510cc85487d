"""Webhook mode: setWebhook and friends, and the POST of each update to the bot, as Telegram delivers it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Hashable

import aiohttp

from tests.support.fake_telegram.errors import ApiCall, TelegramError, WebhookDelivery, bad_request
from tests.support.fake_telegram.spec import JSON, ApiSpec, MethodSpec
from tests.support.fake_telegram.updates import OPT_IN_UPDATE_TYPES

WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_DEFAULT_MAX_CONNECTIONS = 40


class Webhooks:
    """The webhook and its deliveries: part of ``FakeTelegram``, which sets up the state."""

    spec: ApiSpec
    webhook: JSON
    webhook_failures: list[WebhookDelivery]
    webhook_attempts: int
    webhook_retry_delay: float
    webhook_timeout: float
    _webhook_client: aiohttp.ClientSession | None
    _webhook_tasks: set[asyncio.Task[None]]
    _webhook_scheduled: set[int]
    _webhook_done: set[int]
    _webhook_given_up: dict[int, str]
    _webhook_locks: dict[Hashable, asyncio.Lock]
    _webhook_slots: asyncio.Semaphore

    def _set_webhook(self, _spec: MethodSpec, params: JSON) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not WEBHOOK_SECRET_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if not params.get("url"):  # an empty URL removes the webhook, as deleteWebhook does
            return self._delete_webhook(_spec, params)
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else self.spec.update_types - OPT_IN_UPDATE_TYPES
        self._webhook_slots = asyncio.Semaphore(int(params.get("max_connections") or WEBHOOK_DEFAULT_MAX_CONNECTIONS))
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self._wake_pollers()  # a waiting long poll now answers 409
        for update in list(self._queue):  # pending updates go to the new webhook
            self._schedule_delivery(update)
        return True

    def _delete_webhook(self, _spec: MethodSpec, params: JSON) -> bool:
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self._drop_pending()
        return True

    def _drop_pending(self) -> None:
        """drop_pending_updates=True: the queued updates are lost, as in Telegram."""
        if not self._queue:
            return
        self._dropped.update(u["update_id"] for u in self._queue)
        last = self._queue[-1]["update_id"]
        self._queue.clear()
        for update_id in list(self._waiters):
            if update_id <= last:
                future = self._waiters.pop(update_id)
                if not future.done():
                    future.set_exception(AssertionError(f"update {update_id} was dropped by drop_pending_updates=True"))
        self._confirmed_below = max(self._confirmed_below, last + 1)

    def _get_webhook_info(self, _spec: MethodSpec, _params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        for key in ("max_connections", "allowed_updates", "ip_address", "last_error_date", "last_error_message"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    def _schedule_delivery(self, update: JSON) -> None:
        update_id = update["update_id"]
        if update_id in self._webhook_scheduled or update_id in self._webhook_done:
            return
        self._webhook_scheduled.add(update_id)
        self._webhook_given_up.pop(update_id, None)
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    @staticmethod
    def _delivery_key(update: JSON) -> Hashable:
        """Telegram sends one update at a time per chat (or per user, for updates without
        a chat); different chats are served concurrently."""
        body = next((v for k, v in update.items() if k != "update_id"), None)
        if isinstance(body, dict):
            chat = body.get("chat") or (body.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return ("chat", chat["id"])
            user = body.get("from") or body.get("user")
            if isinstance(user, dict) and "id" in user:
                return ("user", user["id"])
        return ("update", update["update_id"])

    async def _deliver(self, update: JSON) -> None:
        """POST ``update`` to the webhook until a 2xx answer, or give up after a few tries.

        An update not delivered stays queued (``getUpdates`` gets it once the webhook is
        deleted; a new ``setWebhook`` tries again), as in Telegram.
        """
        update_id = update["update_id"]
        lock = self._webhook_locks.setdefault(self._delivery_key(update), asyncio.Lock())
        try:
            async with lock:
                for attempt in range(1, self.webhook_attempts + 1):
                    url = self.webhook.get("url")
                    if not url or self._stopping:
                        return
                    async with self._webhook_slots:
                        status, error = await self._post_update(url, update)
                    if status is not None and 200 <= status < 300:
                        self._delivered(update)
                        return
                    failure = WebhookDelivery(update_id, attempt, status, error, self.now())
                    self.webhook_failures.append(failure)
                    self.webhook["last_error_date"] = failure.at
                    self.webhook["last_error_message"] = error
                    self._notify()
                    if attempt < self.webhook_attempts:
                        await asyncio.sleep(self.webhook_retry_delay)
                message = f"webhook delivery of update {update_id} failed {self.webhook_attempts} times: " + ", ".join(
                    f.error for f in self.webhook_failures if f.update_id == update_id
                )
                self._webhook_given_up[update_id] = message
                future = self._waiters.pop(update_id, None)
                if future is not None and not future.done():
                    future.set_exception(AssertionError(message))
                self._notify()
        finally:
            self._webhook_scheduled.discard(update_id)

    async def _post_update(self, url: str, update: JSON) -> tuple[int | None, str]:
        """One POST; returns (HTTP status or None, what went wrong or "")."""
        headers = {"Content-Type": "application/json"}
        secret = self.webhook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(secret)
        if self._webhook_client is None or self._webhook_client.closed:
            self._webhook_client = aiohttp.ClientSession()
        body = json.dumps(update, ensure_ascii=False).encode()
        try:
            async with self._webhook_client.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                if 200 <= response.status < 300:
                    await self._run_webhook_answer(response)
                else:
                    await response.read()
                return response.status, "" if response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, type(exc).__name__

    async def _run_webhook_answer(self, response: aiohttp.ClientResponse) -> None:
        """A method returned in the answer to a webhook POST is executed (its result is not
        sent anywhere), as Telegram does; aiogram sends it as multipart form data."""
        raw: JSON = {}
        files: dict[str, JSON] = {}
        if response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename:
                    data = await part.read()
                    files[part.name] = {
                        "filename": part.filename,
                        "content_type": part.headers.get("Content-Type"),
                        "data": bytes(data),
                    }
                else:
                    raw[part.name] = await part.text()
        elif response.content_type == "application/json":
            try:
                body = await response.json()
            except ValueError:
                return
            if isinstance(body, dict):
                raw = body
        method = raw.pop("method", None)
        if not method:
            return
        spec = self.spec.method(str(method))
        name = spec.name if spec else str(method)
        params: JSON = {}
        try:
            if spec is None:
                raise TelegramError(404, "Not Found")
            params = {k: self._decode(spec, k, v, files) for k, v in raw.items()}
            result = await self._dispatch(spec, params, None)
        except TelegramError as error:
            self._record(name, params, error)
            return
        if self.keep_requests:
            self.requests.append(ApiCall(name, params, True, result=result, at=self.now()))

    def _delivered(self, update: JSON) -> None:
        update_id = update["update_id"]
        self._webhook_done.add(update_id)
        with contextlib.suppress(ValueError):
            self._queue.remove(update)
        future = self._waiters.pop(update_id, None)
        if future is not None and not future.done():
            future.set_result(None)
        self._notify()
