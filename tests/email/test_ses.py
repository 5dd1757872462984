"""Amazon SES notifications through SNS: signed ones act, unsigned or forged ones are refused.

The test is its own SNS: it makes a signing certificate with ``cryptography``, puts it in the
folder the configuration trusts, and signs notifications with it the way SNS does.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from distributor_channels.email.verp import BounceTokens
from tests.email.test_bounces import UNSUBSCRIBE_MAILTO, statuses
from tests.email.test_web import web_client
from tests.email.world import SECRET, World, email_config
from tests.helpers import write_config

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"


class FakeSns:
    def __init__(self, folder: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SimpleNotificationService-test.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
        )

    def envelope(self, message: dict[str, Any], *, version: str = "2", **extra: str) -> bytes:
        fields = {
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Message": json.dumps(message),
            "Timestamp": "2026-11-29T09:00:05.000Z",
            "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            **extra,
        }
        order = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        signed = "".join(f"{k}\n{fields[k]}\n" for k in order if k in fields).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(signed, padding.PKCS1v15(), algorithm)
        fields["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(fields).encode()


def ses_event(kind: str, source: str, address: str) -> dict[str, Any]:
    mail = {"source": source, "destination": [address], "messageId": "0102018c-test"}
    if kind == "Bounce":
        return {
            "notificationType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": address, "status": "5.1.1", "diagnosticCode": "smtp; 550"}
                ],
            },
        }
    return {
        "notificationType": "Complaint",
        "mail": mail,
        "complaint": {"complainedRecipients": [{"emailAddress": address}],
                      "complaintFeedbackType": "abuse"},
    }  # fmt: skip


@pytest.fixture
def sns(world: World) -> FakeSns:
    folder = world.tmp_path / "sns-certs"
    made = FakeSns(folder)
    settings = {
        "address": "bounces@news.example.org",
        "ses": {"topic_arns": [TOPIC], "certificate_dir": str(folder)},
    }
    data = email_config(
        world.loaded.app.store.url,
        world.tmp_path,
        world.smtp,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        bounces=settings,
    )
    world.loaded = write_config(world.tmp_path, data, name="ses.yaml")
    return made


async def test_signed_ses_bounces_and_complaints_suppress(world: World, sns: FakeSns) -> None:
    ids = await world.subscribe("gone@example.net", "angry@example.com", "fine@example.org")
    tokens = BounceTokens(SECRET)

    def source(address: str) -> str:
        return tokens.address("bounces@news.example.org", "daily", ids[address], 7)

    async with web_client(world) as client:
        bounce = sns.envelope(ses_event("Bounce", source("gone@example.net"), "gone@example.net"))
        assert (await client.post("/bounces/ses", content=bounce)).status_code == 200
        complaint = sns.envelope(
            ses_event("Complaint", source("angry@example.com"), "angry@example.com"),
            version="1",
        )
        assert (await client.post("/bounces/ses", content=complaint)).status_code == 200
        # Forged: signed by another key; tampered: a signed body changed afterwards.
        other = FakeSns(world.tmp_path / "other")
        forged = other.envelope(ses_event("Bounce", source("fine@example.org"), "x"))
        assert (await client.post("/bounces/ses", content=forged)).status_code == 403
        tampered = json.loads(sns.envelope(ses_event("Bounce", source("gone@example.net"), "x")))
        tampered["Message"] = json.dumps(ses_event("Bounce", source("fine@example.org"), "x"))
        body = json.dumps(tampered).encode()
        assert (await client.post("/bounces/ses", content=body)).status_code == 403
        unsigned = json.loads(forged)
        del unsigned["Signature"]
        body = json.dumps(unsigned).encode()
        assert (await client.post("/bounces/ses", content=body)).status_code == 403
        elsewhere = json.loads(sns.envelope(ses_event("Bounce", source("fine@example.org"), "x")))
        elsewhere["SigningCertURL"] = "https://attacker.example/SimpleNotificationService-test.pem"
        body = json.dumps(elsewhere).encode()
        assert (await client.post("/bounces/ses", content=body)).status_code == 403
        other_topic = sns.envelope(
            ses_event("Bounce", source("fine@example.org"), "x"),
            TopicArn="arn:aws:sns:eu-west-1:123456789012:other",
        )
        assert (await client.post("/bounces/ses", content=other_topic)).status_code == 403
        assert (await client.post("/bounces/ses", content=b"{not json")).status_code == 400
    found = await statuses(world.store)
    assert found["gone@example.net"][0] == "bounced"
    assert found["angry@example.com"] == ("unsubscribed", "spam complaint (SES, abuse)")
    assert found["fine@example.org"][0] == "confirmed"
