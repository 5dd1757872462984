"""Bounce, complaint and unsubscribe mails as real servers write them (written for these tests).

Each takes the per-message Return-Path the product used and the reader's address, and returns
the bytes that would land in the bounce mailbox.
"""

from __future__ import annotations

ORIGINAL = (
    "Return-Path: <{return_path}>\r\n"
    "From: Daily News <news@news.example.org>\r\n"
    "To: {reader}\r\n"
    "Subject: =?utf-8?q?=C3=89t=C3=A9_:_la_passerelle_ouvre?=\r\n"
    "Message-ID: <a{article}.daily.r{sid}@news.example.org>\r\n"
    "List-Unsubscribe: <{unsubscribe}>\r\n"
    "Date: Sun, 29 Nov 2026 09:00:00 +0000\r\n"
)


def postfix_hard(return_path: str, reader: str, article: int, sid: int, unsubscribe: str) -> bytes:
    """Postfix's RFC 3464 report: user unknown (5.1.1)."""
    original = ORIGINAL.format(
        return_path=return_path, reader=reader, article=article, sid=sid, unsubscribe=unsubscribe
    )
    return (
        "Return-Path: <>\r\n"
        f"Delivered-To: {return_path}\r\n"
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {return_path}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{reader}>: host mx.example.net said: 550 5.1.1 <{reader}>: Recipient\r\n"
        "    address rejected: User unknown in local recipient table\r\n"
        "\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "Arrival-Date: Sun, 29 Nov 2026 09:00:01 +0000\r\n\r\n"
        f"Final-Recipient: rfc822; {reader}\r\n"
        f"Original-Recipient: rfc822;{reader}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; mx.example.net\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown in local recipient table\r\n"
        "\r\n--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{original}"
        "\r\n--B1--\r\n"
    ).encode()


def exim_soft(return_path: str, reader: str, article: int, sid: int, unsubscribe: str) -> bytes:
    """Exim's plain-text bounce (no DSN): the mailbox is full, retry time exceeded (soft)."""
    original = ORIGINAL.format(
        return_path=return_path, reader=reader, article=article, sid=sid, unsubscribe=unsubscribe
    )
    return (
        "Return-path: <>\r\n"
        f"Envelope-to: {return_path}\r\n"
        "From: Mail Delivery System <Mailer-Daemon@mail.example.com>\r\n"
        f"To: {return_path}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Message-Id: <E1x@mail.example.com>\r\n"
        "\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a temporary error. The following address(es) deferred:\r\n\r\n"
        f"  {reader}\r\n"
        "    Mailbox quota exceeded\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        f"{original}\r\n"
        "Bonjour.\r\n"
    ).encode()


def gmail_hard(return_path: str, reader: str, article: int, sid: int, unsubscribe: str) -> bytes:
    """Gmail's report: the account does not exist (5.1.1), with the original message."""
    original = ORIGINAL.format(
        return_path=return_path, reader=reader, article=article, sid=sid, unsubscribe=unsubscribe
    )
    return (
        "Delivered-To: " + return_path + "\r\n"
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {return_path}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; boundary="G0"; report-type=delivery-status\r\n'
        '\r\n--G0\r\nContent-Type: multipart/related; boundary="G1"\r\n\r\n'
        '--G1\r\nContent-Type: text/plain; charset="UTF-8"\r\n\r\n'
        f"** Address not found **\r\n\r\nYour message wasn't delivered to {reader} because the "
        "address couldn't be found, or is unable to receive mail.\r\n\r\n"
        "The response from the remote server was:\r\n"
        f"550 5.1.1 The email account that you tried to reach does not exist.\r\n"
        "\r\n--G1--\r\n"
        "\r\n--G0\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n"
        "Received-From-MTA: dns; news.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {reader}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; gmail-smtp-in.l.google.com.\r\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\r\n"
        " not exist.\r\n"
        "Last-Attempt-Date: Sun, 29 Nov 2026 01:00:02 -0800 (PST)\r\n"
        "\r\n--G0\r\nContent-Type: message/rfc822\r\n\r\n"
        f"{original}\r\nBonjour.\r\n"
        "\r\n--G0--\r\n"
    ).encode()


def yahoo_complaint(
    return_path: str | None, reader: str, article: int, sid: int, unsubscribe: str
) -> bytes:
    """An ARF report (RFC 5965) as Yahoo and AOL send them. Their originals are redacted: the
    Return-Path may be gone, the signed List-Unsubscribe link stays."""
    original = ORIGINAL.format(
        return_path=return_path or "",
        reader=reader,
        article=article,
        sid=sid,
        unsubscribe=unsubscribe,
    )
    if return_path is None:
        original = original.split("\r\n", 1)[1]
    return (
        "From: feedbackloop@comcast-yahoo.example\r\n"
        "To: fbl@news.example.org\r\n"
        "Subject: FW: Été : la passerelle ouvre\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="Y"\r\n'
        "\r\n--Y\r\nContent-Type: text/plain\r\n\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1\r\n"
        "\r\n--Y\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: Yahoo!-Mail-Feedback/2.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <" + (return_path or "") + ">\r\n"
        "Arrival-Date: Sun, 29 Nov 2026 09:00:01 +0000\r\n"
        "Reported-Domain: news.example.org\r\n"
        "\r\n--Y\r\nContent-Type: message/rfc822\r\n\r\n"
        f"{original}\r\nBonjour.\r\n"
        "\r\n--Y--\r\n"
    ).encode()


def unsubscribe_request(reader: str, mailto: str) -> bytes:
    """What a mail client sends for a ``mailto:`` List-Unsubscribe."""
    return (
        f"From: {reader}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n"
        "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nunsubscribe\r\n"
    ).encode()


def auto_reply(return_path: str) -> bytes:
    return (
        f"From: someone@example.com\r\nTo: {return_path}\r\nSubject: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n"
    ).encode()
