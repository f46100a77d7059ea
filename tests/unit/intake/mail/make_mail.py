#!/usr/bin/env python3
"""Writes the small crafted messages used by test_mail_parse.c.

The point of these files is the *bytes*: real GBK, GB18030, Big5, ISO-2022-JP, Shift_JIS and
EUC-KR, mislabelled charsets, encoded-words split in the middle of a character. Python's
codecs produce them, so nobody has to trust a text editor. Run from anywhere:

    python3 tests/unit/intake/mail/make_mail.py

The .eml files are committed too, so the tests do not need python.
"""
import base64
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))


def b64word(charset, data):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(data).decode("ascii"))


def qword(charset, data):
    out = []
    for byte in data:
        c = chr(byte)
        if byte < 128 and c.isalnum():
            out.append(c)
        elif c == " ":
            out.append("_")
        else:
            out.append("=%02X" % byte)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def header(lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


BASE = [
    "Date: Tue, 04 Mar 2025 09:30:15 +0800",
    "To: service@petrocs.example",
    "MIME-Version: 1.0",
]


def gbk_mislabelled():
    # Declared gb2312, but the name and text use GBK-only characters (堃, 镕).
    name = "王堃镕".encode("gbk")
    subject = "关于储罐阀门泄漏的报修（王堃镕）".encode("gbk")
    body = "您好：\r\n我公司三号储罐阀门泄漏，请尽快安排检修。联系人王堃镕。\r\n".encode("gbk")
    h = BASE + [
        "From: %s <Wang.KunRong@Sinochem.example>" % b64word("gb2312", name),
        "Subject: %s" % b64word("gb2312", subject),
        "Message-ID: <gbk-1@sinochem.example>",
        'Content-Type: text/plain; charset="gb2312"',
        "Content-Transfer-Encoding: base64",
    ]
    write("gbk_labelled_gb2312.eml", header(h) + base64.encodebytes(body).replace(b"\n", b"\r\n"))


def gb18030_body():
    # 𠮷 (U+20BB7) only exists as a four-byte GB18030 sequence.
    body = "客户名称：𠮷野石化\r\n".encode("gb18030")
    h = BASE + [
        "From: yoshino@example.cn",
        "Subject: gb18030 four-byte",
        "Content-Type: text/plain; charset=GB18030",
        "Content-Transfer-Encoding: 8bit",
    ]
    write("gb18030_body.eml", header(h) + body)


def big5():
    subject = "繁體中文測試".encode("big5")
    body = "請派員檢查管線壓力。\n".encode("big5")
    h = BASE + [
        "From: %s <chen@formosa.example.tw>" % qword("big5", "陳先生".encode("big5")),
        "Subject: %s" % qword("big5", subject),
        "Content-Type: text/plain; charset=big5",
        "Content-Transfer-Encoding: quoted-printable",
    ]
    write("big5.eml", header(h) + quopri.encodestring(body).replace(b"\n", b"\r\n"))


def iso2022jp():
    subject = "配管の点検依頼".encode("iso-2022-jp")
    body = "お世話になっております。\r\n配管の点検をお願いします。\r\n".encode("iso-2022-jp")
    h = BASE + [
        "From: %s <tanaka@example.jp>" % b64word("ISO-2022-JP", "田中".encode("iso-2022-jp")),
        "Subject: %s" % b64word("ISO-2022-JP", subject),
        "Content-Type: text/plain; charset=ISO-2022-JP",
        "Content-Transfer-Encoding: 7bit",
    ]
    write("iso2022jp.eml", header(h) + body)


def shift_jis():
    body = "ポンプの異音について①\r\n".encode("cp932")  # ① is a CP932 extension
    h = BASE + [
        "From: suzuki@example.jp",
        "Subject: %s" % b64word("shift_jis", "ポンプ異音".encode("shift_jis")),
        'Content-Type: text/plain; charset="Shift_JIS"',
        "Content-Transfer-Encoding: 8bit",
    ]
    write("shift_jis.eml", header(h) + body)


def euc_kr():
    body = "안녕하세요. 보일러 점검을 요청합니다.\r\n".encode("euc-kr")
    h = BASE + [
        "From: %s <kim@example.kr>" % b64word("euc-kr", "김철수".encode("euc-kr")),
        "Subject: %s" % b64word("ks_c_5601-1987", "점검 요청".encode("euc-kr")),
        "Content-Type: text/plain; charset=euc-kr",
        "Content-Transfer-Encoding: 8bit",
    ]
    write("euc_kr.eml", header(h) + body)


def split_words():
    # One GBK character is cut between two encoded-words, the second on a folded line;
    # a UTF-8 character is cut between two Q words.
    s = "测试邮件标题很长的中文".encode("gbk")
    u = "液化气".encode("utf-8")
    h = BASE + [
        "From: %s %s <li@example.cn>" % (qword("utf-8", u[:4]), qword("utf-8", u[4:])),
        "Subject: %s\r\n %s" % (b64word("gb2312", s[:5]), b64word("gb2312", s[5:])),
        "Content-Type: text/plain; charset=us-ascii",
    ]
    write("split_encoded_word.eml", header(h) + b"body\r\n")


def undeclared_8bit():
    h = BASE + ["From: zhao@example.cn", "Subject: ".encode("ascii").decode() + "催办：换热器结垢"]
    raw = ("\r\n".join(h) + "\r\n\r\n").encode("gbk")  # raw 8-bit GBK subject, no MIME
    write("undeclared_gbk.eml", raw + "换热器结垢严重，请派人处理。\r\n".encode("gbk"))
    # raw 8-bit Big5 subject: the body's declared charset is the hint, not GB18030
    h = BASE + ["From: lin@example.tw", "Subject: 管線壓力異常",
                "Content-Type: text/plain;\r\n charset=\"big5\""]
    raw = ("\r\n".join(h) + "\r\n\r\n").encode("big5")
    write("undeclared_big5_subject.eml", raw + "請派員檢查。\r\n".encode("big5"))
    h = BASE + ["From: qian@example.cn", "Subject: 压缩机振动"]
    raw = ("\r\n".join(h) + "\r\n\r\n").encode("utf-8")
    write("undeclared_utf8.eml", raw + "压缩机振动超标。\r\n".encode("utf-8"))
    h = BASE + ["From: pierre@example.fr", "Subject: latin1 body"]
    write("undeclared_latin1.eml", header(h) + "Réunion au café\r\n".encode("latin-1"))


def invalid_bytes():
    h = BASE + [
        "From: broken@example.cn",
        "Subject: invalid bytes",
        "Content-Type: text/plain; charset=gb2312",
        "Content-Transfer-Encoding: 8bit",
    ]
    # 0xFF and 0x80 can never start a GB18030 character; the NUL must not reach the ticket
    body = "阀门".encode("gbk") + b"\xff\x00\x80" + "损坏".encode("gbk") + b"\r\n"
    write("invalid_bytes.eml", header(h) + body)


def attachments():
    pdf = b"%PDF-1.4\n% fake\n" + bytes(range(256))
    name2231 = "检修报告.pdf".encode("gbk")
    pct = "".join("%%%02X" % b for b in name2231)
    name2047 = "现场照片-三号储罐.jpg".encode("gbk")
    img = b"\xff\xd8\xff\xe0JFIF-not-really"
    parts = [
        b"--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n",
        ("--BOUND\r\nContent-Type: application/pdf\r\n"
         "Content-Disposition: attachment;\r\n filename*=gbk''%s\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" % pct).encode("ascii")
        + base64.encodebytes(pdf).replace(b"\n", b"\r\n"),
        ("--BOUND\r\nContent-Type: image/jpeg;\r\n name=\"%s\r\n %s\"\r\n"
         "Content-ID: <photo1@petrocs>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         % (b64word("gb2312", name2047[:7]), b64word("gb2312", name2047[7:]))).encode("ascii")
        + base64.encodebytes(img).replace(b"\n", b"\r\n"),
        ("--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E8%AE%BE%E5%A4%87;\r\n"
         " filename*1*=%E6%B8%85%E5%8D%95.txt\r\n\r\nitem,qty\r\n").encode("ascii"),
        b"--BOUND--\r\n",
    ]
    h = BASE + [
        "From: ops@example.cn",
        "Subject: attachments",
        'Content-Type: multipart/mixed; boundary="BOUND"',
    ]
    write("attachments.eml", header(h) + b"".join(parts))


HTML = """<html><head><title>Newsletter</title><style>p { color: red; }</style>
<script>alert("x");</script></head>
<body><p>Dear&nbsp;customer,</p><p>Tank &amp; pipe check &lt;urgent&gt;<br>second line</p>


<ul><li>valve</li><li>pump</li></ul>
<!-- hidden comment -->
<p>&#20320;&#x597D; &quot;ok&quot;</p></body></html>
"""


def html_only():
    h = BASE + [
        "From: web@example.cn",
        "Subject: html only",
        "Content-Type: text/html; charset=utf-8",
    ]
    write("html_only.eml", header(h) + HTML.replace("\n", "\r\n").encode("utf-8"))


def alternative():
    plain = "Plain version: 管道巡检\r\n".encode("gbk")
    html = "<p>HTML version</p>".encode("utf-8")
    parts = (b"--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"
             b"--ALT\r\nContent-Type: text/plain; charset=gbk\r\n\r\n" + plain
             + b"--ALT--\r\n")
    h = BASE + [
        "From: alt@example.cn",
        "Subject: alternative",
        "Content-Type: multipart/alternative; boundary=ALT",
    ]
    write("alternative.eml", header(h) + parts)


def forwarded():
    inner = header([
        "From: %s <origin@example.cn>" % b64word("gbk", "孙工".encode("gbk")),
        "Subject: %s" % b64word("gbk", "原始报修".encode("gbk")),
        "Message-ID: <inner@example.cn>",
        "Content-Type: text/plain; charset=gbk",
        "Content-Transfer-Encoding: 8bit",
    ]) + "原始邮件正文：锅炉压力异常。\r\n".encode("gbk")
    parts = (b"--FWD\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             + "请看下面转发的邮件。\r\n".encode("utf-8")
             + b"--FWD\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--FWD--\r\n")
    h = BASE + [
        "From: fwd@example.cn",
        "Subject: Fwd: report",
        "Content-Type: multipart/mixed; boundary=FWD",
    ]
    write("forwarded.eml", header(h) + parts)


def kinds():
    def simple(name, extra, frm="someone@example.cn"):
        h = BASE + ["From: " + frm, "Subject: " + name] + extra
        write(name + ".eml", header(h) + b"text\r\n")

    simple("auto_submitted", ["Auto-Submitted: auto-replied; owner-email=x@example.cn"])
    simple("auto_submitted_no", ["Auto-Submitted: no"])
    simple("precedence_bulk", ["Precedence: bulk"])
    simple("precedence_junk", ["Precedence: junk"])
    simple("list_id", ["List-Id: Petro news <news.example.cn>"])
    simple("x_autoreply", ["X-Autoreply: yes"])
    simple("x_autorespond", ["X-Autorespond: Out of office"])
    simple("x_auto_response_suppress", ["X-Auto-Response-Suppress: All"])


RETURNED = header([
    "From: agent@petrocs.example",
    "To: nobody@customer.example",
    "Subject: Ticket 2025-0042 accepted",
    "Message-ID: <ticket-2025-0042@petrocs.example>",
]) + b"Your request was accepted.\r\n"


def dsn_block(status="5.1.1", rcpt="Nobody@Customer.example"):
    return ("Reporting-MTA: dns; mx.petrocs.example\r\n\r\n"
            "Original-Recipient: rfc822;%s\r\n"
            "Final-Recipient: rfc822; <%s>\r\n"
            "Action: failed\r\n"
            "Status: %s (bad destination mailbox address)\r\n" % (rcpt, rcpt, status)).encode("ascii")


def bounces():
    parts = (b"--REP\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
             b"Delivery to the following recipient failed permanently.\r\n"
             b"--REP\r\nContent-Type: message/delivery-status\r\n\r\n" + dsn_block()
             + b"\r\n--REP\r\nContent-Type: message/rfc822\r\n\r\n" + RETURNED
             + b"\r\n--REP--\r\n")
    h = BASE + [
        "From: Mail Delivery System <MAILER-DAEMON@mx.petrocs.example>",
        "Subject: Undelivered Mail Returned to Sender",
        "Auto-Submitted: auto-replied",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=REP",
    ]
    write("bounce_report.eml", header(h) + parts)

    # not a multipart/report, but from the postmaster with a DSN part and returned headers
    parts = (b"--MIX\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n"
             b"--MIX\r\nContent-Type: message/delivery-status\r\n\r\n"
             + dsn_block("5.2.2", "full@example.org")
             + b"\r\n--MIX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
             + RETURNED.split(b"\r\n\r\n")[0] + b"\r\n--MIX--\r\n")
    h = BASE + [
        "From: postmaster@example.org",
        "Subject: Delivery failure",
        "Content-Type: multipart/mixed; boundary=MIX",
    ]
    write("bounce_postmaster.eml", header(h) + parts)


def threading():
    h = [
        "Date: Tue, 04 Mar 2025 09:30:15.5 +0800",
        "Date: Tue, 04 Mar 2025 09:30:15 +0800",
        "From: \"Zhou, Min\" <Zhou.Min@Example.CN>",
        "Reply-To: Tickets <Tickets@Example.CN>",
        "To: Service Desk <service@petrocs.example>, other@example.cn",
        "Subject: Re: Ticket 2025-0042",
        "Message-ID: <reply-1@example.cn>",
        "In-Reply-To: <ticket-2025-0042@petrocs.example> <other@x>",
        "References: <root@petrocs.example>\r\n <ticket-2025-0042@petrocs.example>",
    ][1:]
    write("threading.eml", header(h) + b"thanks\r\n")


if __name__ == "__main__":
    gbk_mislabelled()
    gb18030_body()
    big5()
    iso2022jp()
    shift_jis()
    euc_kr()
    split_words()
    undeclared_8bit()
    invalid_bytes()
    attachments()
    html_only()
    alternative()
    forwarded()
    kinds()
    bounces()
    threading()
