"""The URLs readers follow: subscribe form, confirmation, unsubscribe (web service routes)."""

from __future__ import annotations

import re
from datetime import datetime

from distributor.config import DEVELOPMENT_WEB_SECRET, WebConfig
from distributor_channels.email.tokens import TokenSigner

_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]_-]+(/[A-Za-z0-9._~/-]*)?$")


class Links:
    """Builds the web service's links for one deployment (``web.base_url`` + ``web.secret``)."""

    def __init__(self, web: WebConfig) -> None:
        """Raises ValueError: ``web.base_url`` is not a plain URL, or a secret is too short."""
        base = web.base_url.rstrip("/")
        # These URLs go into List-Unsubscribe headers verbatim: nothing but URL characters.
        if not _BASE_URL.match(base):
            raise ValueError(f"web.base_url is not a plain http(s) URL: {web.base_url!r}")
        self.base_url = base
        previous = [secret.get_secret_value() for secret in web.previous_secrets]
        try:
            self.signer = TokenSigner(web.secret.get_secret_value(), previous)
        except ValueError as exc:
            raise ValueError(f"web.secret / web.previous_secrets: {exc}") from None
        self.development_secret = web.secret.get_secret_value() == DEVELOPMENT_WEB_SECRET

    def subscribe(self, list_name: str) -> str:
        return f"{self.base_url}/subscribe/{list_name}"

    def unsubscribe(self, list_name: str, subscriber_id: int, address: str) -> str:
        token = self.signer.unsubscribe(list_name, subscriber_id, address)
        return f"{self.base_url}/unsubscribe/{token}"

    def confirm(
        self, list_name: str, subscriber_id: int, address: str, issued: datetime, nonce: str
    ) -> str:
        token = self.signer.confirm(list_name, subscriber_id, address, issued, nonce)
        return f"{self.base_url}/confirm/{token}"
