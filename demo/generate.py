#!/usr/bin/env python3
"""Generate petrocs's demo data set: raw customer e-mails and web/app/partner requests.

Why a generator and not hand-written files: the e-mails must carry the byte-level mess real
Chinese mail clients produce (GBK declared as gb2312, GB18030, Big5, RFC 2047 words split over
several lines, RFC 2231 file names, quoted-printable, base64, HTML-only bodies, bounces,
auto-replies, duplicates), which is tedious and error-prone to type.  The generator is seeded
and uses no clock, so its output is byte-for-byte reproducible; the output is committed so the
demo needs nothing but the repository.

    python3 demo/generate.py            # rewrite demo/mail, demo/web, demo/README.md
    python3 demo/generate.py --check    # regenerate in a temp dir, compare, validate

Python 3 standard library only.
"""

import argparse
import base64
import datetime as dt
import email
import email.policy
import email.utils
import filecmp
import html
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import urllib.parse
import zipfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios as S  # noqa: E402

SEED = 20261116
CRLF = b"\r\n"
TZ = dt.timezone(dt.timedelta(hours=8))
SERVICE_ADDRS = ["service@petrocs.example", "cs@petrocs.example"]
MIN_COUNTS = {"mails": 90, "requests": 130, "attachments": 8, "replies": 10,
              "autoreplies": 5, "bounces": 3, "duplicates": 2, "web": 40}


# --------------------------------------------------------------------------------------------
# MIME plumbing.  Written out by hand (not email.generator) because we need exact control
# over the declared charset versus the bytes actually used, and over how headers are folded.
# --------------------------------------------------------------------------------------------

def ew_b(text, label, codec):
    """RFC 2047 B encoded-words, split on character boundaries so each word is <= 75 chars."""
    words, chunk = [], ""
    overhead = len(label) + 7
    for ch in text:
        trial = (chunk + ch).encode(codec)
        if chunk and overhead + 4 * ((len(trial) + 2) // 3) > 75:
            words.append(chunk)
            chunk = ch
        else:
            chunk += ch
    if chunk:
        words.append(chunk)
    return ["=?%s?B?%s?=" % (label, base64.b64encode(w.encode(codec)).decode()) for w in words]


_Q_SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def ew_q(text, label, codec):
    """RFC 2047 Q encoded-words, split on character boundaries (<= 75 chars each)."""
    def q(bs):
        return "".join("_" if b == 0x20 else chr(b) if b in _Q_SAFE else "=%02X" % b for b in bs)
    words, chunk = [], ""
    overhead = len(label) + 7
    for ch in text:
        if chunk and overhead + len(q((chunk + ch).encode(codec))) > 75:
            words.append(chunk)
            chunk = ch
        else:
            chunk += ch
    if chunk:
        words.append(chunk)
    return ["=?%s?Q?%s?=" % (label, q(w.encode(codec))) for w in words]


def fold_words(name, words):
    """A header whose value is a list of words, folded one word per continuation line when
    the line would pass 76 characters (what most clients do with encoded-words)."""
    lines, cur = [], name + ":"
    for w in words:
        if len(cur) + 1 + len(w) > 76 and cur != name + ":":
            lines.append(cur)
            cur = " " + w
        else:
            cur += " " + w
    lines.append(cur)
    return "\r\n".join(lines)


def fold_ascii(name, value):
    return fold_words(name, value.split(" "))


def is_ascii(s):
    return all(ord(c) < 128 for c in s)


def enc_text_header(name, text, label, codec, mode="B"):
    if is_ascii(text):
        return fold_ascii(name, text)
    return fold_words(name, (ew_b if mode == "B" else ew_q)(text, label, codec))


def enc_subject(prefix, text, label, codec, mode="B"):
    """Subject, keeping an ASCII reply prefix ("Re:") outside the encoded-words."""
    if is_ascii(text):
        return fold_ascii("Subject", prefix + text)
    words = (ew_b if mode == "B" else ew_q)(text, label, codec)
    if prefix:
        words = [prefix.strip()] + words
    return fold_words("Subject", words)


def enc_addr(display, addr, label, codec, quote_ew=False):
    if not display:
        return "<%s>" % addr
    if is_ascii(display):
        if re.search(r"[^A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]", display):
            return '"%s" <%s>' % (display.replace('"', '\\"'), addr)
        return "%s <%s>" % (display, addr)
    word = " ".join(ew_b(display, label, codec))
    # Foxmail and several webmails put the encoded-word inside quotes (not RFC-compliant,
    # but it is what arrives); most readers decode it anyway.
    return ('"%s" <%s>' if quote_ew else "%s <%s>") % (word, addr)


def b64_body(data):
    return base64.encodebytes(data).replace(b"\n", CRLF)


def qp_body(data):
    """Quoted-printable (RFC 2045 6.7) with CRLF hard breaks and '=' soft breaks at 76."""
    out = []
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        enc = []
        for i, b in enumerate(line):
            last = i == len(line) - 1
            if (33 <= b <= 126 and b != 61) or (b in (9, 32) and not last):
                enc.append(chr(b))
            else:
                enc.append("=%02X" % b)
        cur = ""
        for tok in enc:
            if len(cur) + len(tok) > 75:
                out.append(cur + "=")
                cur = ""
            cur += tok
        out.append(cur)
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def crlf_text(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def wrap_cjk(text, width=38):
    """Hard-wrap long lines for 8bit bodies (SMTP lines must stay under 998 octets)."""
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            out.append(line[:width])
            line = line[width:]
        out.append(line)
    return "\n".join(out)


def part(headers, body):
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body


def multipart(subtype, boundary, parts, extra_params="", preamble=b""):
    head = 'Content-Type: multipart/%s;\r\n\tboundary="%s"%s' % (subtype, boundary, extra_params)
    body = preamble
    for p in parts:
        body += b"--" + boundary.encode() + CRLF + p + CRLF
    body += b"--" + boundary.encode() + b"--" + CRLF
    return head, body


def text_part(content, subtype, label, codec, cte):
    data = crlf_text(content).encode(codec)
    if cte == "base64":
        body = b64_body(data)
    elif cte == "quoted-printable":
        body = qp_body(data)
    else:
        body = data if data.endswith(CRLF) else data + CRLF
    return part(["Content-Type: text/%s;\r\n\tcharset=\"%s\"" % (subtype, label),
                 "Content-Transfer-Encoding: %s" % cte], body)


# --------------------------------------------------------------------------------------------
# Attachments: small but well-formed PDF, GBK CSV (as Chinese Excel exports it), XLSX, JPEG.
# --------------------------------------------------------------------------------------------

def make_pdf(title_ascii, lines):
    content = "BT /F1 11 Tf 50 780 Td (%s) Tj ET\n" % title_ascii
    y = 760
    for ln in lines:
        content += "BT /F1 9 Tf 50 %d Td (%s) Tj ET\n" % (y, ln)
        y -= 14
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length %d >>\nstream\n%sendstream" % (len(content), content),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i, o)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref)).encode()
    return out


def make_csv_gbk(rng, header, rows):
    lines = [",".join(header)] + [",".join(str(c) for c in r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def make_xlsx(header, rows):
    """A minimal but valid Office Open XML workbook with inline strings (stored, fixed dates,
    so the bytes are reproducible)."""
    def cell(ref, v):
        if isinstance(v, (int, float)):
            return '<c r="%s"><v>%s</v></c>' % (ref, v)
        return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, html.escape(str(v)))
    sheet_rows = []
    for r, row in enumerate([header] + rows, 1):
        cells = "".join(cell("%s%d" % (chr(65 + c), r), v) for c, v in enumerate(row))
        sheet_rows.append('<row r="%d">%s</row>' % (r, cells))
    files = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>',
        "xl/workbook.xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '</Relationships>',
        "xl/worksheets/sheet1.xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData>%s</sheetData></worksheet>' % "".join(sheet_rows),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 1, 8, 0, 0))
            z.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def make_jpeg(rng, size):
    """JPEG-shaped bytes (SOI, JFIF APP0, opaque scan data, EOI): enough for a MIME test."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
    return head + bytes(rng.randrange(256) for _ in range(size)) + b"\xff\xd9"


def attachment_part(att, style_label, style_codec):
    """One attachment; the file-name encoding is the interesting bit:
    rfc2231      filename*=UTF-8''%E6%8C...            (Thunderbird, Apple, Gmail)
    rfc2231-gbk  filename*=GBK''%D5%F1...              (Coremail)
    rfc2231-cont filename*0*=...; filename*1*=...      (long names)
    rfc2047      filename="=?GBK?B?...?="              (Foxmail, Outlook, QQ)"""
    name, ctype, data, how = att["name"], att["ctype"], att["data"], att["how"]
    if how == "rfc2047":
        word = " ".join(ew_b(name, style_label, style_codec))
        ct = 'Content-Type: %s;\r\n\tname="%s"' % (ctype, word)
        cd = 'Content-Disposition: attachment;\r\n\tfilename="%s"' % word
    elif how in ("rfc2231", "rfc2231-gbk"):
        cs, codec = ("UTF-8", "utf-8") if how == "rfc2231" else ("GBK", "gbk")
        val = "%s''%s" % (cs, urllib.parse.quote(name.encode(codec), safe=""))
        ct = "Content-Type: %s;\r\n\tname*=%s" % (ctype, val)
        cd = "Content-Disposition: attachment;\r\n\tfilename*=%s" % val
    else:  # rfc2231-cont
        pct = urllib.parse.quote(name.encode("utf-8"), safe="")
        pieces, i = [], 0
        while i < len(pct):
            j = min(i + 54, len(pct))
            while j < len(pct) and pct[j - 1] != ";" and "%" in pct[j - 2:j]:
                j -= 1  # never cut a %XX escape in half
            pieces.append(pct[i:j])
            i = j
        params = ";\r\n\t".join("filename*%d*=%s%s" % (n, "UTF-8''" if n == 0 else "", p)
                                for n, p in enumerate(pieces))
        ct = "Content-Type: %s" % ctype
        cd = "Content-Disposition: attachment;\r\n\t%s" % params
    return part([ct, "Content-Transfer-Encoding: base64", cd], b64_body(data))


# --------------------------------------------------------------------------------------------
# Mail client styles.  Each turns a Letter into RFC 5322 bytes the way that client would.
# --------------------------------------------------------------------------------------------

class Letter:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.extra = kw.get("extra", [])
        self.attachments = kw.get("attachments", [])
        self.prefix = kw.get("prefix", "")


def html_div(text):
    return "".join("<div>%s</div>" % (html.escape(l).replace("  ", "&nbsp; ") or "<br>")
                   for l in text.split("\n"))


def html_outlook(text, label):
    font = {"big5": "新細明體", "us-ascii": "Calibri"}.get(label, "微软雅黑")
    paras = "".join('<p class=MsoNormal><span style=\'font-size:10.5pt;font-family:"%s",'
                    'sans-serif\'>%s<o:p></o:p></span></p>\n' % (font, html.escape(l) or "&nbsp;")
                    for l in text.split("\n"))
    return ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">\n'
            '<head>\n<meta http-equiv=Content-Type content="text/html; charset=%s">\n'
            '<meta name=Generator content="Microsoft Word 15 (filtered medium)">\n'
            '<style><!-- p.MsoNormal {margin:0cm;text-align:justify;} --></style>\n</head>\n'
            '<body lang=ZH-CN link="#0563C1" vlink="#954F72" style=\'text-justify-trim:punctuation\'>\n'
            '<div class=WordSection1>\n%s</div>\n</body>\n</html>\n' % (label, paras))


def html_foxmail(text, label):
    return ('<html><head><meta http-equiv="content-type" content="text/html; charset=%s">'
            '<style>body { line-height: 1.5; }body { font-size: 14px; font-family: "Microsoft YaHei UI"; '
            'color: rgb(0, 0, 0); line-height: 1.5; }</style></head><body>\n%s\n'
            '<div><br></div><hr style="width: 210px; height: 1px;" color="#b5c4df" size="1" align="left">\n'
            '<div><span><div style="MARGIN: 10px; FONT-FAMILY: verdana; FONT-SIZE: 10pt">'
            '<div>%s</div></div></span></div>\n</body></html>\n'
            % (label, html_div(text), html.escape(text.split("\n")[-1])))


def html_qq(text, label):
    return '<meta http-equiv="Content-Type" content="text/html; charset=%s"><div>%s</div>' % (
        label, html_div(text))


def html_plain(text, label):
    return ('<!DOCTYPE html>\n<html><head><meta charset="%s"><title></title></head>\n'
            '<body style="font-family:SimSun,serif;font-size:14px">\n%s\n</body></html>\n'
            % (label, html_div(text)))


class Style:
    """name, charset label, codec, builder."""
    def __init__(self, name, label, codec, build, subj_mode="B", quote_ew=False):
        self.name, self.label, self.codec, self.build = name, label, codec, build
        self.subj_mode, self.quote_ew = subj_mode, quote_ew


def common_headers(L, st, mailer_headers):
    h = ["Received: from %s (unknown [%s])\r\n\tby mx.%s (Postfix) with ESMTPSA id %s\r\n\tfor <%s>; %s"
         % (L.client_host, L.client_ip, L.from_domain, L.queue_id, L.to_addr, L.date_str),
         "Date: %s" % L.date_str,
         "From: %s" % enc_addr(L.from_name, L.from_addr, st.label, st.codec, st.quote_ew),
         "To: %s" % enc_addr(L.to_name, L.to_addr, st.label, st.codec, st.quote_ew)]
    if getattr(L, "cc", None):
        h.append("Cc: %s" % enc_addr(L.cc[0], L.cc[1], st.label, st.codec, st.quote_ew))
    h.append(enc_subject(L.prefix, L.subject, st.label, st.codec, st.subj_mode))
    h.append("Message-ID: %s" % L.message_id)
    h.extend(L.extra)
    h.extend(mailer_headers)
    h.append("MIME-Version: 1.0")
    return h


def wrap_mixed(L, st, ctype_hdr, body, boundary):
    """Put the body and the attachments into multipart/mixed, if there are attachments."""
    if not L.attachments:
        return ctype_hdr, body
    inner = (ctype_hdr + "\r\n\r\n").encode("ascii") + body
    parts = [inner] + [attachment_part(a, st.label, st.codec) for a in L.attachments]
    return multipart("mixed", boundary, parts, preamble=b"This is a multi-part message in MIME format.\r\n\r\n")


def finish(headers, ctype_hdr, body, cte=None):
    headers = list(headers) + [ctype_hdr]
    if cte:
        headers.append("Content-Transfer-Encoding: %s" % cte)
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body


def build_foxmail(L, st, rng):
    b = "----=_001_NextPart%09d_=----" % rng.randrange(10 ** 9)
    alt = multipart("alternative", b, [text_part(L.body, "plain", st.label, st.codec, "base64"),
                                        text_part(html_foxmail(L.body, st.label), "html", st.label, st.codec, "base64")])
    ct, body = wrap_mixed(L, st, *alt, boundary="----=_001_NextPart%09d_=----" % rng.randrange(10 ** 9))
    h = common_headers(L, st, ["X-Priority: %d" % (1 if L.urgent else 3),
                               "X-GUID: %08X-%04X-%04X-%04X-%012X" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48)),
                               "X-Has-Attach: %s" % ("yes" if L.attachments else "no"),
                               "X-Mailer: Foxmail 7.2.25.375[cn]"])
    return finish(h, ct, body)


def build_outlook(L, st, rng):
    tag = "%04X_%08X.%08X" % (rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32))
    b = "----=_NextPart_001_" + tag
    alt = multipart("alternative", b, [text_part(L.body, "plain", st.label, st.codec, "quoted-printable"),
                                        text_part(html_outlook(L.body, st.label), "html", st.label, st.codec, "quoted-printable")])
    ct, body = wrap_mixed(L, st, *alt, boundary="----=_NextPart_000_" + tag)
    h = common_headers(L, st, ["X-Mailer: Microsoft Outlook 16.0",
                               "Thread-Index: %s" % base64.b64encode(bytes(rng.randrange(256) for _ in range(22))).decode(),
                               "Content-Language: %s" % {"en": "en-us", "zh-TW": "zh-tw"}.get(L.lang, "zh-cn"),
                               "X-MS-Has-Attach: %s" % ("yes" if L.attachments else "")])
    return finish(h, ct, body)


def build_coremail(L, st, rng):
    b = "----=_Part_%d_%d.%d" % (rng.randrange(10 ** 6), rng.randrange(10 ** 9), 1790000000000 + rng.randrange(10 ** 10))
    alt = multipart("alternative", b, [text_part(L.body, "plain", st.label, st.codec, "base64"),
                                        text_part(html_div(L.body), "html", st.label, st.codec, "base64")])
    ct, body = wrap_mixed(L, st, *alt, boundary="----=_Part_%d_%d.%d" % (rng.randrange(10 ** 6), rng.randrange(10 ** 9), 1790000000000 + rng.randrange(10 ** 10)))
    h = common_headers(L, st, ["X-Priority: 3",
                               "X-Mailer: Coremail Webmail Server Version XT5.0.14 build 20250801(9d0ec3ba)",
                               "X-Originating-IP: [%s]" % L.client_ip,
                               "X-CM-CTRLDATA: %s" % base64.b64encode(bytes(rng.randrange(256) for _ in range(18))).decode()])
    return finish(h, ct, body)


def build_qq(L, st, rng):
    b = "----=_NextPart_%08X_%08X_%08X" % (rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32))
    alt = multipart("alternative", b, [text_part(L.body, "plain", st.label, st.codec, "base64"),
                                        text_part(html_qq(L.body, st.label), "html", st.label, st.codec, "base64")])
    ct, body = wrap_mixed(L, st, *alt, boundary="----=_NextPart_%08X_%08X_%08X" % (rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)))
    h = common_headers(L, st, ["X-QQ-MIME: TCMime 1.0 by Tencent", "X-Mailer: QQMail 2.x",
                               "X-QQ-Mailer: QQMail 2.x", "X-QQ-mid: xmsezb%d-%dt%d" % (rng.randrange(100), rng.randrange(10 ** 6), 1790000000 + rng.randrange(10 ** 7))])
    return finish(h, ct, body)


def build_html_only(L, st, rng):
    """Web mail / OA system that sends only an HTML body."""
    page = html_plain(L.body, st.label)
    if L.attachments:
        single = text_part(page, "html", st.label, st.codec, "base64")
        hdr, body = single.split(b"\r\n\r\n", 1)
        ct, body = wrap_mixed(L, st, hdr.decode("ascii"), body, boundary="=_OA_%016x" % rng.getrandbits(64))
        h = common_headers(L, st, ["X-Mailer: OA Mail Gateway 3.1"])
        return finish(h, ct, body)
    h = common_headers(L, st, ["X-Mailer: OA Mail Gateway 3.1"])
    return finish(h, 'Content-Type: text/html; charset="%s"' % st.label,
                  b64_body(crlf_text(page).encode(st.codec)), "base64")


def build_apple(L, st, rng):
    """Apple Mail: plain text, UTF-8 quoted-printable, Q-encoded subject."""
    uid = "%08X-%04X-%04X-%04X-%012X" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48))
    tp = text_part(L.body, "plain", st.label, st.codec, "quoted-printable")
    hdr, body = tp.split(b"\r\n\r\n", 1)
    if L.attachments:
        ct, body = wrap_mixed(L, st, hdr.decode("ascii"), body, boundary="Apple-Mail=_" + uid)
        h = common_headers(L, st, ["X-Mailer: Apple Mail (2.3826.500.181)"])
        return finish(h, ct, body)
    h = common_headers(L, st, ["X-Mailer: Apple Mail (2.3826.500.181)"])
    return finish(h, 'Content-Type: text/plain;\r\n\tcharset=%s' % st.label, body, "quoted-printable")


def build_thunderbird(L, st, rng):
    """Thunderbird: plain text, 8bit, hard-wrapped."""
    text = wrap_cjk(L.body, 38 if L.lang != "en" else 72)
    data = crlf_text(text).encode(st.codec) + CRLF
    extra = ["User-Agent: Mozilla Thunderbird", "Content-Language: %s" % ("en-US" if L.lang == "en" else "zh-CN")]
    if L.attachments:
        inner = 'Content-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: 8bit' % st.label
        ct, body = wrap_mixed(L, st, inner, data, boundary="------------%024d" % rng.randrange(10 ** 24))
        return finish(common_headers(L, st, extra), ct, body)
    return finish(common_headers(L, st, extra), "Content-Type: text/plain; charset=%s" % st.label, data, "8bit")


def build_iphone(L, st, rng):
    body = L.body + ("\n\nSent from my iPhone" if L.lang == "en" else "\n\n发自我的iPhone")
    h = common_headers(L, st, ["X-Mailer: iPhone Mail (22C152)"])
    return finish(h, "Content-Type: text/plain;\r\n\tcharset=%s" % st.label,
                  b64_body(crlf_text(body).encode(st.codec)), "base64")


def build_plain_8bit(L, st, rng):
    """An older desktop client: text/plain in the local charset, 8bit, no alternatives."""
    data = crlf_text(wrap_cjk(L.body, 36)).encode(st.codec) + CRLF
    extra = ["X-Mailer: Microsoft Outlook Express 6.00.2900.5512", "X-Priority: 3"]
    if L.attachments:
        inner = 'Content-Type: text/plain; charset="%s"\r\nContent-Transfer-Encoding: 8bit' % st.label
        ct, body = wrap_mixed(L, st, inner, data, boundary="----=_NextPart_000_%04X_%08X" % (rng.getrandbits(16), rng.getrandbits(32)))
        return finish(common_headers(L, st, extra), ct, body)
    return finish(common_headers(L, st, extra), 'Content-Type: text/plain;\r\n\tcharset="%s"' % st.label, data, "8bit")


def build_gmail_en(L, st, rng):
    b = "000000000000%016x" % rng.getrandbits(64)
    alt = multipart("alternative", b, [text_part(L.body, "plain", st.label, st.codec, "quoted-printable"),
                                        text_part("<div dir=\"ltr\">%s</div>" % html_div(L.body), "html", st.label, st.codec, "quoted-printable")])
    ct, body = wrap_mixed(L, st, *alt, boundary="000000000000%016x" % rng.getrandbits(64))
    return finish(common_headers(L, st, []), ct, body)


STYLES = {
    # Mainland: gb2312 label; bytes are GBK, so names with 喆/镕/堃 end up mislabelled.
    "foxmail": Style("foxmail", "gb2312", "gbk", build_foxmail, quote_ew=True),
    "outlook-cn": Style("outlook-cn", "gb2312", "gbk", build_outlook),
    "coremail": Style("coremail", "GBK", "gbk", build_coremail),
    "qqmail": Style("qqmail", "gb18030", "gb18030", build_qq, quote_ew=True),
    "oa-html-gbk": Style("oa-html-gbk", "GBK", "gbk", build_html_only),
    "oa-html-utf8": Style("oa-html-utf8", "utf-8", "utf-8", build_html_only),
    "apple": Style("apple", "utf-8", "utf-8", build_apple, subj_mode="Q"),
    "thunderbird": Style("thunderbird", "UTF-8", "utf-8", build_thunderbird),
    "iphone": Style("iphone", "utf-8", "utf-8", build_iphone, subj_mode="Q"),
    "oe-gb18030": Style("oe-gb18030", "GB18030", "gb18030", build_plain_8bit),
    # Taiwan / Hong Kong.
    "outlook-big5": Style("outlook-big5", "big5", "big5", build_outlook),
    "oe-big5": Style("oe-big5", "big5", "big5", build_plain_8bit),
    "apple-hk": Style("apple-hk", "utf-8", "utf-8", build_apple, subj_mode="Q"),
    # English.
    "outlook-en": Style("outlook-en", "us-ascii", "ascii", build_outlook),
    "gmail-en": Style("gmail-en", "UTF-8", "utf-8", build_gmail_en),
    "thunderbird-en": Style("thunderbird-en", "UTF-8", "utf-8", build_thunderbird),
}
STYLE_WEIGHTS = {
    "zh-CN": [("foxmail", 7), ("outlook-cn", 6), ("coremail", 6), ("qqmail", 4), ("oa-html-gbk", 2),
              ("oa-html-utf8", 2), ("apple", 3), ("thunderbird", 2), ("iphone", 3), ("oe-gb18030", 2)],
    "zh-TW": [("outlook-big5", 5), ("oe-big5", 3), ("apple-hk", 2)],
    "en": [("outlook-en", 4), ("gmail-en", 4), ("thunderbird-en", 2)],
}


def message_id(style, rng, addr, when):
    dom = addr.split("@")[1]
    if style.startswith("foxmail"):
        return "<%s%07d@%s>" % (when.strftime("%Y%m%d%H%M%S"), rng.randrange(10 ** 7), dom)
    if style.startswith("outlook"):
        return "<%012x$%08x$%08x$@%s>" % (rng.getrandbits(48), rng.getrandbits(32), rng.getrandbits(32), dom)
    if style == "coremail":
        return "<%x.%x.%x.Coremail.%s>" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(44), addr)
    if style == "qqmail":
        return "<tencent_%032X@qq.example>" % rng.getrandbits(128)
    if style.startswith("gmail"):
        return "<CA+%s@mail.gmail.example>" % base64.b64encode(bytes(rng.randrange(256) for _ in range(30)), b"-_").decode()
    return "<%08X-%04X-%04X-%04X-%012X@%s>" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48), dom)


# --------------------------------------------------------------------------------------------
# People, placeholders and the plan of the data set.
# --------------------------------------------------------------------------------------------

def make_people(rng):
    """Two or three fictitious contacts per company."""
    people = {}
    for key, name, domain, industry, tier, script in S.COMPANIES:
        lst = []
        for i in range(3 if tier == "strategic" else 2):
            if script == "hans":
                (sn, sp), (gn, gp) = rng.choice(S.SURNAMES_HANS), rng.choice(S.GIVEN_HANS)
                title = rng.choice(S.TITLES_HANS)
            elif script == "hant":
                (sn, sp), (gn, gp) = rng.choice(S.SURNAMES_HANT), rng.choice(S.GIVEN_HANT)
                title = rng.choice(S.TITLES_HANT)
            else:
                full = rng.choice(S.NAMES_EN)
                sn, gn = full.split(" ", 1)[1], full.split(" ", 1)[0]
                sp, gp = re.sub(r"[^a-z]", "", sn.lower()), gn.lower()
                title = rng.choice(S.TITLES_EN)
            lst.append(person(sn, sp, gn, gp, title, domain, script, rng))
        people[key] = lst
    return people


def person(sn, sp, gn, gp, title, domain, script, rng):
    if script == "en":
        display, local = "%s %s" % (gn, sn), "%s.%s" % (gp, sp)
    elif script == "hant":
        display, local = sn + gn, "%s.%s" % (gp, sp)
    else:
        display, local = sn + gn, sp + gp
    return {"name": display, "email": "%s@%s" % (local, domain), "title": title,
            "phone": phone(rng, script)}


def phone(rng, script):
    if script == "hant":
        return "+886-7-555-%04d" % rng.randrange(10000)
    if script == "en":
        return "+65 5550 %04d" % rng.randrange(10000)
    return "1390000%04d" % rng.randrange(10000)


def fill(rng, tmpl, who, when):
    later = when + dt.timedelta(days=rng.randint(2, 12))
    before = when - dt.timedelta(days=rng.randint(1, 6))
    p = {
        "unit": rng.choice(S.UNITS_HANS), "unit_tw": rng.choice(S.UNITS_HANT), "unit_en": rng.choice(S.UNITS_EN),
        "tag": "P-%d%02d%s" % (rng.randint(1, 9), rng.randint(1, 40), rng.choice("AB")),
        "kt": "K-%d%02d" % (rng.randint(1, 7), rng.randint(1, 9)),
        "ex": "E-%d%02d%s" % (rng.randint(1, 9), rng.randint(1, 30), rng.choice(["", "A", "B"])),
        "valve": "%s-%d%03d" % (rng.choice(["FV", "PV", "LV", "TV", "XV"]), rng.randint(1, 9), rng.randint(1, 999)),
        "vib": "%.1f" % rng.uniform(7.5, 14.8), "temp": rng.randint(82, 168), "drops": rng.randint(8, 40),
        "pct": rng.randint(8, 25), "load": rng.choice([60, 65, 70, 75]), "dt": rng.randint(8, 25),
        "dp": "%.2f" % rng.uniform(0.18, 0.35), "dn": rng.choice([80, 100, 150, 200, 250]),
        "medium": rng.choice(["汽油", "液化石油气", "氢气", "燃料气", "重整生成油"]),
        "n1": rng.randint(2, 6), "n2": rng.randint(8, 30), "n3": rng.randint(101, 380),
        "tubes": rng.randint(2, 6), "hour": rng.randint(0, 23), "minute": "%02d" % rng.randint(0, 59),
        "minute2": rng.randint(12, 40), "rpm": rng.choice([3200, 4100, 5600, 6800]),
        "area": rng.choice(["东侧管廊", "压缩机厂房", "泵区", "装车站台"]), "lel": rng.randint(25, 60),
        "ppm": rng.randint(30, 120), "nodes": rng.randint(25, 90), "days": rng.randint(3, 8),
        "month": rng.randint(1, 12), "nmhc": "%.1f" % rng.uniform(4.3, 7.9), "cod": rng.randint(72, 128),
        "comps": rng.randint(8, 40) * 1000, "y1": "%.1f" % rng.uniform(47, 51), "y2": "%.1f" % rng.uniform(42, 46),
        "cap": rng.choice([20, 30, 45, 60, 80]), "qty": rng.choice([5, 10, 13, 26, 100, 300, 500]),
        "product": rng.choice(S.PRODUCTS_HANS), "product_en": rng.choice(["jet fuel", "naphtha", "methanol", "diesel"]),
        "batch": "%s%02d%03d" % (later.strftime("%y%m"), rng.randint(1, 28), rng.randint(1, 999)),
        "sulfur": rng.randint(12, 30), "contract": "PCS-%d-%04d" % (when.year, rng.randint(1, 9999)),
        "water": rng.randint(260, 600), "short": "%.1f" % rng.uniform(3, 18),
        "amount": "{:,}".format(rng.randint(80, 400) * 1000), "invoice": "INV-%d%05d" % (when.year, rng.randint(1, 99999)),
        "date": "%d月%d日" % (later.month, later.day), "day": "%d月%d日" % (before.month, before.day),
        "date_en": later.strftime("%d %B").lstrip("0"), "day_en": before.strftime("%d %B").lstrip("0"),
        "date_tw": "%d年%d月%d日" % (before.year - 1911, before.month, before.day),
        "name": who["name"], "phone": who["phone"], "title": who["title"],
    }
    p["amount2"] = "{:,}".format(int(p["amount"].replace(",", "")) - rng.randint(8, 40) * 1000)
    return tmpl.format(**p)


def signature(who, company, lang):
    if lang == "en":
        return "\n\n%s\n%s, %s\nTel: %s" % (who["name"], who["title"], company, who["phone"])
    if lang == "zh-TW":
        return "\n\n敬祝 商祺\n%s %s\n%s\n電話：%s" % (company, who["title"], who["name"], who["phone"])
    return "\n\n此致\n敬礼！\n\n%s\n%s %s\n电话：%s" % (who["name"], company, who["title"], who["phone"])


SCRIPT_OF = {"zh-CN": "hans", "zh-TW": "hant", "en": "en"}
ONLY_FOR = {"regulator_data": ["lgsthj"], "regulator_safety": ["lgyj"], "investor_dd": ["cjny"],
            "investor_en": ["mep"], "supply_hk": ["hfny", "gwyp"], "gas_hk": ["wgqt", "hfny"],
            "lng_truck": ["xbqt", "dhlng", "zyqt", "bfcy"], "supply_en": ["gsl", "mep"]}
NOT_FOR = {"lgsthj", "lgyj", "cjny", "mep"}  # regulators / investors file only their own kinds


def pick_company(rng, sc):
    if sc[0] in ONLY_FOR:
        return rng.choice(ONLY_FOR[sc[0]])
    script = SCRIPT_OF[sc[2]]
    return rng.choice([c[0] for c in S.COMPANIES if c[5] == script and c[0] not in NOT_FOR])


COMPANY = {c[0]: c for c in S.COMPANIES}


def scenario_stream(rng):
    """Scenarios in a shuffled, repeating order per language, so every scenario gets used."""
    pools = {}
    for lang in ("zh-CN", "zh-TW", "en"):
        pools[lang] = [s for s in S.SCENARIOS if s[2] == lang]
    cursors = {lang: [] for lang in pools}

    def next_for(lang):
        if not cursors[lang]:
            cursors[lang] = pools[lang][:]
            rng.shuffle(cursors[lang])
        return cursors[lang].pop()
    return next_for


def random_time(rng, start, end, urgent):
    span = int((end - start).total_seconds())
    t = start + dt.timedelta(seconds=rng.randrange(span))
    if not urgent and rng.random() < 0.85:  # most routine mail is written in office hours
        t = t.replace(hour=rng.randint(8, 17))
    return t


def attachment_for(rng, sc_key, lang, idx):
    """An attachment that fits the request (data for monitoring, photos for repairs...)."""
    hows = ["rfc2047", "rfc2231", "rfc2231-gbk", "rfc2231-cont"]
    how = hows[idx % len(hows)]
    if lang != "zh-CN" and how == "rfc2231-gbk":
        how = "rfc2231"
    if sc_key in ("cod", "env_en", "data_report", "vocs"):
        rows = [["2026-11-%02d %02d:00" % (d, h), rng.randint(55, 130), "%.2f" % rng.uniform(0.5, 4.5), "%.1f" % rng.uniform(6.5, 8.2)]
                for d in range(1, 8) for h in (0, 8, 16)]
        if idx % 2:
            name = {"en": "effluent-data-week.csv", "zh-TW": "近一週監測數據.csv"}.get(lang, "近一周出水监测数据.csv")
            return {"name": name, "ctype": "text/csv", "data": make_csv_gbk(rng, ["时间", "COD(mg/L)", "氨氮(mg/L)", "pH"], rows), "how": how}
        name = {"en": "raw-data.xlsx", "zh-TW": "設備運轉數據分析-原始資料.xlsx"}.get(lang, "设备运行数据分析-原始数据表.xlsx")
        return {"name": name, "ctype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "data": make_xlsx(["时间", "COD(mg/L)", "氨氮(mg/L)", "pH"], rows), "how": how}
    if sc_key in ("pump_vibration", "pump_vibration_en", "seal_leak", "repair_tw", "spare_parts", "valve_leak", "poor_repair"):
        name = {"en": "pump-nameplate.jpg", "zh-TW": "現場照片.jpg"}.get(lang, "现场照片_机泵铭牌.jpg")
        return {"name": name, "ctype": "image/jpeg", "data": make_jpeg(rng, 1800 + rng.randrange(1500)), "how": how}
    if sc_key in ("supply_hk",):
        return {"name": "岸罐計量報告.pdf", "ctype": "application/pdf",
                "data": make_pdf("Shore tank gauging report", ["Tank T-%d  Net %.3f t" % (rng.randint(1, 9), rng.uniform(800, 2000)) for _ in range(6)]), "how": "rfc2231"}
    name = {"en": "inspection-report.pdf", "zh-TW": "檢測報告（2026年第%d期）.pdf" % (idx + 1)}.get(
        lang, "振动检测报告（2026年第%d期）.pdf" % (idx + 1))
    return {"name": name, "ctype": "application/pdf",
            "data": make_pdf("Inspection report %d" % (idx + 1), ["Item %d: reading %.2f" % (i, rng.uniform(1, 20)) for i in range(8)]), "how": how}


class Mail:
    """One .eml of the data set plus what README and --check need to know about it."""
    def __init__(self, kind, when, data, meta):
        self.kind, self.when, self.data, self.meta = kind, when, data, meta


def new_letter(rng, sc, company_key, who, when, style_name, to_addr):
    co = COMPANY[company_key]
    body = fill(rng, sc[6], who, when) + signature(who, co[1], sc[2])
    subject = fill(rng, sc[5], who, when)
    urgent = sc[3] == "critical"
    if urgent and sc[2] != "en" and rng.random() < 0.5:
        subject = "【紧急】" + subject if not subject.startswith(("【", "紧急", "緊急")) else subject
    dom = who["email"].split("@")[1]
    return Letter(subject=subject, body=body, lang=sc[2], urgent=urgent, from_name=who["name"],
                  from_addr=who["email"], from_domain=dom, to_name={"en": "petrocs Customer Service"}.get(sc[2], "petrocs客服中心"),
                  to_addr=to_addr, date_str=email.utils.format_datetime(when),
                  client_host="[192.168.%d.%d]" % (rng.randint(0, 30), rng.randint(2, 250)),
                  client_ip="10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(2, 250)),
                  queue_id="%010X" % rng.getrandbits(40),
                  message_id=message_id(style_name, rng, who["email"], when))


def choose_style(rng, lang):
    names, weights = zip(*STYLE_WEIGHTS[lang])
    return rng.choices(names, weights)[0]


def render(letter, style_name, rng):
    st = STYLES[style_name]
    return st.build(letter, st, rng)


def plan_requests(rng, people, n):
    """The new requests arriving by mail, with the byte-level variety forced in where the
    brief needs a minimum (mislabelled gb2312, GB18030-only characters, attachments)."""
    next_sc = scenario_stream(rng)
    start = dt.datetime(2026, 11, 2, 0, 0, tzinfo=TZ)
    end = dt.datetime(2026, 12, 18, 23, 0, tzinfo=TZ)
    langs = ["zh-CN"] * 62 + ["zh-TW"] * 12 + ["en"] * (n - 74)
    rng.shuffle(langs)
    mails, att_idx, rare = [], 0, 0
    for i, lang in enumerate(langs):
        sc = next_sc(lang)
        ck = pick_company(rng, sc)
        who = dict(rng.choice(people[ck]))
        style = choose_style(rng, lang)
        if lang == "zh-CN" and i % 7 == 0:     # mislabelled: gb2312 declared, GBK bytes
            style = ("foxmail", "outlook-cn")[i % 2]
            gn, gp = rng.choice(S.GIVEN_GBK_ONLY)
            who["name"] = who["name"][0] + gn
            who["email"] = "%s%s@%s" % (dict(S.SURNAMES_HANS).get(who["name"][0], "x"), gp, who["email"].split("@")[1])
        elif lang == "zh-CN" and i % 13 == 5:  # a name only GB18030 can carry
            style = ("qqmail", "oe-gb18030")[i % 2]
            gn, gp = S.GIVEN_GB18030_ONLY[rare % len(S.GIVEN_GB18030_ONLY)]  # use each in turn
            rare += 1
            who["name"] = who["name"][0] + gn
            who["email"] = "%s%s@%s" % (dict(S.SURNAMES_HANS).get(who["name"][0], "x"), gp, who["email"].split("@")[1])
        if style == "qqmail":
            who["email"] = "%d@qq.example" % rng.randint(10 ** 7, 10 ** 10)
        when = random_time(rng, start, end, sc[3] == "critical")
        to_addr = SERVICE_ADDRS[0] if rng.random() < 0.8 else SERVICE_ADDRS[1]
        L = new_letter(rng, sc, ck, who, when, style, to_addr)
        if (sc[0] in ("cod", "env_en", "data_report", "vocs", "supply_hk", "seal_leak", "repair_tw",
                      "pump_vibration", "hx_fouling", "pressure_vessel", "spare_parts")
                and rng.random() < 0.6) or i % 11 == 3:
            L.attachments = [attachment_for(rng, sc[0], lang, att_idx)]
            att_idx += 1
            if att_idx % 4 == 0:
                L.attachments.append(attachment_for(rng, "data_report", lang, att_idx))
                att_idx += 1
        mails.append((L, style, sc, ck, who, when))
    return mails


REPLY_TEXT = {
    "zh-CN": ["补充一下情况：{extra}请贵方工程师出发前先和我联系。",
              "请问这个单子目前有进展吗？已经过去{hours}个小时了，还没有人联系我们。",
              "收到，谢谢。我们这边已经准备好了现场作业票，工程师到厂后直接找{name}即可。",
              "补充附件中的数据，另外现场情况有变化：{extra}",
              "工程师已到场处理完毕，设备运行正常，谢谢！"],
    "zh-TW": ["補充說明：{extra_tw}請貴公司派員前先與我聯絡。", "請問目前處理進度如何？已經過了{hours}小時仍未收到回覆。"],
    "en": ["Quick update: {extra_en} Please call me before your engineer sets off.",
           "Any news on this? It has been {hours} hours and nobody has contacted us.",
           "Thanks, confirmed. Permit to work is ready; please ask for {name} at the gate."],
}
EXTRA = ["振动值今天上午又上升到了11.2 mm/s。", "泄漏量比昨天明显增大，已加装临时接油盘。", "装置已经降量到70%。",
         "备用泵也出现了异响。", "环保局今天下午要来现场检查。"]
EXTRA_TW = ["今日上午振動值再升高。", "洩漏量較昨日增加。"]
EXTRA_EN = ["the vibration went up again this morning.", "the leak rate has doubled since yesterday.", "we had to cut throughput to 70%."]


def quote_original(L, lang):
    head = {"en": "On %s, %s <%s> wrote:" % (L.date_str, L.from_name, L.from_addr),
            "zh-TW": "-----原始郵件-----\n寄件者: %s <%s>\n寄件日期: %s\n主旨: %s" % (L.from_name, L.from_addr, L.date_str, L.subject)}.get(
        lang, "------------------ 原始邮件 ------------------\n发件人: %s <%s>\n发送时间: %s\n主题: %s" % (L.from_name, L.from_addr, L.date_str, L.subject))
    if lang == "en":
        return head + "\n" + "\n".join("> " + l for l in L.body.split("\n"))
    return head + "\n\n" + L.body


def plan_replies(rng, originals, n):
    """Customers writing again in an existing thread (In-Reply-To / References)."""
    out = []
    picks = rng.sample(range(min(70, len(originals))), n)
    for k, idx in enumerate(picks):
        L0, style, sc, ck, who, when0 = originals[idx]
        parent_refs = [L0.message_id]
        parent = L0
        # two replies continue an earlier reply, so References grows to two ids
        if k >= n - 2 and out:
            parent, prev_style, prev_when, prev_refs = out[k - (n - 2)][0], out[k - (n - 2)][1], out[k - (n - 2)][4], out[k - (n - 2)][5]
            parent_refs = prev_refs + [parent.message_id]
            when = prev_when + dt.timedelta(hours=rng.randint(2, 20), minutes=rng.randint(0, 59))
            style, lang, who, ck = prev_style, parent.lang, out[k - (n - 2)][2], out[k - (n - 2)][3]
        else:
            when = when0 + dt.timedelta(hours=rng.randint(1, 30), minutes=rng.randint(0, 59))
            lang = L0.lang
        tmpl = rng.choice(REPLY_TEXT[lang])
        text = tmpl.format(extra=rng.choice(EXTRA), extra_tw=rng.choice(EXTRA_TW), extra_en=rng.choice(EXTRA_EN),
                           hours=rng.randint(3, 30), name=who["name"])
        co = COMPANY[ck]
        body = text + signature(who, co[1], lang) + "\n\n" + quote_original(parent, lang)
        prefix = "Re: " if k % 6 != 5 else ("回复：" if lang == "zh-CN" else "RE: ")
        subj = parent.subject
        while True:  # "Re: Re: " is normalised by clients to a single prefix
            m = re.match(r"^(?:Re|RE|回复|答复)[:：]\s*", subj)
            if not m:
                break
            subj = subj[m.end():]
        L = Letter(**{k2: v for k2, v in parent.__dict__.items() if k2 not in ("extra", "attachments", "prefix")})
        L.from_name, L.from_addr, L.from_domain = who["name"], who["email"], who["email"].split("@")[1]
        if prefix.startswith("回复"):
            L.subject, L.prefix = prefix + subj, ""
        else:
            L.subject, L.prefix = subj, prefix
        L.body, L.date_str, L.urgent = body, email.utils.format_datetime(when), False
        L.message_id = message_id(style, rng, who["email"], when)
        L.queue_id = "%010X" % rng.getrandbits(40)
        L.extra = ["In-Reply-To: %s" % parent.message_id, fold_words("References", parent_refs)]
        L.attachments = [attachment_for(rng, "data_report", lang, k)] if k == 3 else []
        out.append((L, style, who, ck, when, parent_refs))
    return out


def plan_autoreplies(rng, originals, people, n):
    """Out-of-office answers to petrocs's own acceptance letters: must not become tickets."""
    kinds = [("zh-CN", "自动回复: ", "您好，我于{d1}至{d2}休假，期间邮件无法及时处理。紧急事务请联系{colleague}，电话{phone}。"),
             ("en", "Out of Office: ", "I am out of the office until {d2_en} with limited access to e-mail. For urgent matters please contact {colleague}."),
             ("zh-CN", "自动回复：", "此邮件为自动回复。您的来信已收到，我将尽快处理。"),
             ("en", "Automatic reply: ", "Thank you for your message. I am currently travelling and will respond on my return."),
             ("zh-TW", "自動回覆: ", "您好，本人出差中，{d2_tw}返回辦公室，急事請洽{colleague}。"),
             ("zh-CN", "自动回复: ", "您好！我已离职，相关工作已交接给{colleague}，请直接与其联系。")]
    header_sets = [["Auto-Submitted: auto-replied", "X-Autoreply: yes"],
                   ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"],
                   ["X-Autoreply: yes", "Precedence: auto_reply"],
                   ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: bulk"],
                   ["Auto-Submitted: auto-replied"],
                   ["X-Autoreply: yes", "X-Autorespond: yes"]]
    out = []
    candidates = [o for o in originals if o[0].lang in ("zh-CN", "en", "zh-TW")]
    for k in range(n):
        lang, prefix, tmpl = kinds[k % len(kinds)]
        L0, style, sc, ck, who, when0 = rng.choice([o for o in candidates if o[0].lang == lang])
        when = when0 + dt.timedelta(minutes=rng.randint(1, 6), seconds=rng.randint(0, 59))
        back = when + dt.timedelta(days=rng.randint(3, 12))
        others = [p["name"] for p in people[ck] if p["name"] != who["name"]]
        colleague = rng.choice(others) if others else rng.choice(S.NAMES_EN)
        body = tmpl.format(d1="%d月%d日" % (when.month, when.day), d2="%d月%d日" % (back.month, back.day),
                           d2_en=back.strftime("%d %B").lstrip("0"), d2_tw="%d月%d日" % (back.month, back.day),
                           colleague=colleague, phone=who["phone"])
        ack_subject = {"en": "Request acknowledged - petrocs customer service"}.get(lang, "受理确认函 - petrocs客服中心" if lang == "zh-CN" else "受理確認函 - petrocs客服中心")
        ack_id = "<ack.%s.%06d@petrocs.example>" % (when0.strftime("%Y%m%d"), rng.randrange(10 ** 6))
        L = Letter(subject=prefix + ack_subject, body=body, lang=lang, urgent=False,
                   from_name=who["name"], from_addr=who["email"], from_domain=who["email"].split("@")[1],
                   to_name="", to_addr=SERVICE_ADDRS[0], date_str=email.utils.format_datetime(when),
                   client_host="exch%02d.%s" % (rng.randint(1, 9), who["email"].split("@")[1]),
                   client_ip="10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(2, 250)),
                   queue_id="%010X" % rng.getrandbits(40), message_id=message_id(style, rng, who["email"], when),
                   extra=["In-Reply-To: %s" % ack_id, "References: %s" % ack_id] + header_sets[k % len(header_sets)])
        st = {"zh-CN": "coremail", "en": "outlook-en", "zh-TW": "outlook-big5"}[lang]
        if not _fits(L, STYLES[st].codec):  # a name only UTF-8 (or GB18030) can carry
            st = "thunderbird"
        out.append((L, st, when))
    return out


def build_bounce(rng, target, when, k):
    """A non-delivery report for petrocs's acceptance letter (RFC 3464 multipart/report)."""
    L0, style, sc, ck, who, when0 = target
    rcpt_dom = who["email"].split("@")[1]
    bad_rcpt = who["email"].replace("@", "x@") if k % 2 == 0 else who["email"]
    mta = "mx%d.%s" % (rng.randint(1, 3), rcpt_dom)
    ack_id = "<ack.%s.%06d@petrocs.example>" % (when0.strftime("%Y%m%d"), rng.randrange(10 ** 6))
    delayed = k == 3
    status, action, diag = (("4.4.1", "delayed", "smtp; 421 4.4.1 Connection timed out") if delayed else
                            [("5.1.1", "failed", "smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % bad_rcpt),
                             ("5.2.2", "failed", "smtp; 552 5.2.2 Mailbox full"),
                             ("5.7.1", "failed", "smtp; 554 5.7.1 Message rejected as spam by content filter")][k % 3])
    if k % 2 == 0:  # Postfix, English
        human = ("This is the mail system at host %s.\n\nI'm sorry to have to inform you that your message could not\n"
                 "be delivered to one or more recipients. It's attached below.\n\n"
                 "                   The mail system\n\n<%s>: host %s said: %s\n" % (mta, bad_rcpt, mta, diag[6:]))
        subject, from_name, human_cs, human_codec = (("Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"),
                                                     "Mail Delivery System", "us-ascii", "ascii")
    else:  # Coremail style, Chinese explanation
        human = ("很抱歉您的邮件没有发送成功。\n\n收件人：%s\n原因：%s\n\n以下是原邮件的信头。\n" % (bad_rcpt, diag[6:]))
        subject, from_name, human_cs, human_codec = "系统退信/Systems bounce", "系统管理员", "GBK", "gbk"
    orig_headers = ("Received: from cs-notify-0 (localhost [127.0.0.1])\n\tby mail.petrocs.example with ESMTP id %08X\n\tfor <%s>; %s\n"
                    "Date: %s\nFrom: =?utf-8?B?%s?= <service@petrocs.example>\nTo: <%s>\nSubject: %s\nMessage-ID: %s\n"
                    "Auto-Submitted: auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                    % (rng.getrandbits(32), bad_rcpt, email.utils.format_datetime(when0 + dt.timedelta(minutes=1)),
                       email.utils.format_datetime(when0 + dt.timedelta(minutes=1)),
                       base64.b64encode("petrocs客服中心".encode()).decode(), bad_rcpt,
                       " ".join(ew_b("受理确认函：您的服务请求已受理", "utf-8", "utf-8")), ack_id))
    dsn = ("Reporting-MTA: dns; %s\nX-Postfix-Queue-ID: %010X\nX-Postfix-Sender: rfc822; service@petrocs.example\n"
           "Arrival-Date: %s\n\nFinal-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: %s\nStatus: %s\n"
           "Remote-MTA: dns; %s\nDiagnostic-Code: %s\n%s"
           % (mta, rng.getrandbits(40), email.utils.format_datetime(when - dt.timedelta(minutes=1)), bad_rcpt, bad_rcpt,
              action, status, mta, diag, ("Will-Retry-Until: %s\n" % email.utils.format_datetime(when + dt.timedelta(days=5))) if delayed else ""))
    b = "%08X.%d/%s" % (rng.getrandbits(32), 1790000000 + rng.randrange(10 ** 7), mta)
    parts = [text_part(human, "plain", human_cs, human_codec, "8bit" if human_codec == "ascii" else "base64"),
             part(["Content-Description: Delivery report", "Content-Type: message/delivery-status"], crlf_text(dsn).encode()),
             part(["Content-Description: Undelivered Message Headers", "Content-Type: text/rfc822-headers"], crlf_text(orig_headers).encode())]
    ct, body = multipart("report", b, parts, extra_params="; report-type=delivery-status",
                         preamble=b"This is a MIME-encapsulated message.\r\n\r\n")
    h = ["Return-Path: <>",
         "Received: by %s (Postfix)\r\n\tid %010X; %s" % (mta, rng.getrandbits(40), email.utils.format_datetime(when)),
         "Date: %s" % email.utils.format_datetime(when),
         "From: %s" % enc_addr(from_name, "MAILER-DAEMON@%s" % mta, "GBK", "gbk"),
         "To: service@petrocs.example",
         enc_subject("", subject, "GBK", "gbk"),
         "Message-ID: <%d.%08X@%s>" % (rng.randrange(10 ** 9), rng.getrandbits(32), mta),
         "Auto-Submitted: auto-replied",
         "MIME-Version: 1.0"]
    return finish(h, ct, body)


# --------------------------------------------------------------------------------------------
# Web / app / on-site / partner requests (JSON lines for intake's POST /v1/requests).
# --------------------------------------------------------------------------------------------

def web_requests(rng, people, n_valid):
    next_sc = scenario_stream(rng)
    start = dt.datetime(2026, 11, 2, tzinfo=TZ)
    end = dt.datetime(2026, 12, 18, tzinfo=TZ)
    channels = ["web"] * 14 + ["app"] * 12 + ["onsite"] * 8 + ["partner"] * (n_valid - 34)
    rng.shuffle(channels)
    out = []
    for i, ch in enumerate(channels):
        lang = rng.choices(["zh-CN", "zh-TW", "en"], [7, 1, 2])[0]
        sc = next_sc(lang)
        ck = pick_company(rng, sc)
        co = COMPANY[ck]
        who = rng.choice(people[ck])
        when = random_time(rng, start, end, sc[3] == "critical")
        body = fill(rng, sc[6], who, when)
        if ch == "onsite":
            body = {"en": "[Walk-in] Raised in person at the service desk:\n",
                    "zh-TW": "[現場受理] 客戶到服務站當面提出：\n"}.get(lang, "[现场受理] 客户到服务站当面提出：\n") + body
        req = {"channel": ch,
               "customer": {"name": who["name"], "email": who["email"], "phone": who["phone"],
                            "company": co[1], "industry": co[3], "tier": co[4]},
               "subject": fill(rng, sc[5], who, when), "description": body,
               "language": "zh-CN" if lang != "en" else "en"}
        if i % 4 != 3:                     # some requests leave classification to dispatch
            req["service_type"] = sc[1]
        if i % 2 == 0 or sc[3] == "critical":  # explicit urgency / impact where the form asks
            req["urgency"], req["impact"] = sc[3], sc[4]
        if ch in ("app", "partner"):
            req["external_id"] = "%s-%s-%05d" % ("APP" if ch == "app" else "PTN", when.strftime("%Y%m%d"), rng.randrange(10 ** 5))
        req["_expect"] = "created"
        out.append((when, req))
    out.sort(key=lambda x: x[0])
    reqs = [r for _, r in out]
    # Idempotency: a partner platform and the app retry the same submission.
    retries = [r for r in reqs if "external_id" in r][:2]
    for r in retries:
        dup = json.loads(json.dumps(r))
        dup["_expect"] = "duplicate"
        dup["_note"] = "retry of %s (same external_id)" % r["external_id"]
        reqs.insert(reqs.index(r) + 3, dup)
    # Deliberately invalid requests: intake must answer 400/422 naming the field.
    base = reqs[5]
    bad = []
    b = json.loads(json.dumps(base)); del b["subject"]; b["_expect"] = "invalid"; b["_field"] = "subject"; bad.append(b)
    b = json.loads(json.dumps(base)); b["subject"] = "   "; b["_expect"] = "invalid"; b["_field"] = "subject"; bad.append(b)
    b = json.loads(json.dumps(reqs[9])); b["customer"]["email"] = "zhang.wei#hdsh-refining.example"; b["_expect"] = "invalid"; b["_field"] = "customer.email"; bad.append(b)
    b = json.loads(json.dumps(reqs[12])); b["customer"]["email"] = "li.na@"; b["_expect"] = "invalid"; b["_field"] = "customer.email"; bad.append(b)
    b = json.loads(json.dumps(reqs[15])); b["channel"] = "fax"; b["_expect"] = "invalid"; b["_field"] = "channel"; bad.append(b)
    b = json.loads(json.dumps(reqs[18])); b["urgency"] = "extreme"; b["_expect"] = "invalid"; b["_field"] = "urgency"; bad.append(b)
    for k, b in enumerate(bad):
        b.pop("external_id", None)
        b["_note"] = "deliberately invalid: %s" % b["_field"]
        reqs.insert(7 + k * 7, b)
    return reqs


# --------------------------------------------------------------------------------------------
# Putting it together.
# --------------------------------------------------------------------------------------------

def build(rng):
    people = make_people(rng)
    originals = plan_requests(rng, people, 96)
    mails = []
    for L, style, sc, ck, who, when in originals:
        mails.append(Mail("request", when, render(L, style, rng),
                          {"style": style, "label": STYLES[style].label, "lang": L.lang, "msgid": L.message_id,
                           "attachments": len(L.attachments), "scenario": sc[0], "service_type": sc[1],
                           "html_only": style.startswith("oa-html"),
                           "mislabelled": STYLES[style].label == "gb2312" and not _fits(L, "gb2312")}))
    for L, style, who, ck, when, refs in plan_replies(rng, originals, 12):
        mails.append(Mail("reply", when, render(L, style, rng),
                          {"style": style, "label": STYLES[style].label, "lang": L.lang, "msgid": L.message_id,
                           "attachments": len(L.attachments), "in_reply_to": refs[-1],
                           "html_only": False, "mislabelled": STYLES[style].label == "gb2312" and not _fits(L, "gb2312")}))
    for L, style, when in plan_autoreplies(rng, originals, people, 6):
        mails.append(Mail("autoreply", when, render(L, style, rng),
                          {"style": style, "label": STYLES[style].label, "lang": L.lang, "msgid": L.message_id,
                           "attachments": 0, "html_only": False, "mislabelled": False}))
    for k in range(4):
        target = originals[rng.randrange(len(originals))]
        when = target[5] + dt.timedelta(minutes=rng.randint(2, 12))
        mails.append(Mail("bounce", when, build_bounce(rng, target, when, k),
                          {"style": "bounce", "label": "-", "lang": "zh-CN" if k % 2 else "en", "msgid": "-",
                           "attachments": 0, "html_only": False, "mislabelled": False}))
    # Duplicates: the same message delivered twice (a client retry, or two MX routes).
    reqs = [m for m in mails if m.kind == "request"]
    for k, src in enumerate(rng.sample(reqs, 3)):
        data = src.data
        if k == 2:  # second copy took another route: one more Received line, same Message-ID
            data = ("Received: from mx2.backup.example (mx2.backup.example [10.9.8.7])\r\n\tby mx.petrocs.example; %s\r\n"
                    % email.utils.format_datetime(src.when + dt.timedelta(minutes=20))).encode() + data
        mails.append(Mail("duplicate", src.when + dt.timedelta(minutes=rng.randint(3, 40)), data,
                          dict(src.meta, exact=(k != 2), dup_of=src.meta["msgid"])))
    mails.sort(key=lambda m: m.when)
    web = web_requests(rng, people, 44)
    return mails, web


def _fits(L, codec):
    try:
        (L.subject + L.body + L.from_name).encode(codec)
        return True
    except UnicodeEncodeError:
        return False


def slug(m):
    return {"request": "req", "reply": "reply", "autoreply": "auto", "bounce": "bounce", "duplicate": "dup"}[m.kind]


def write(outdir, mails, web):
    maildir = os.path.join(outdir, "mail")
    webdir = os.path.join(outdir, "web")
    for d in (maildir, webdir):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    names = []
    for i, m in enumerate(mails, 1):
        tag = m.meta.get("label", "-").lower().replace("-", "") if m.kind != "bounce" else "report"
        name = "%03d-%s-%s-%s.eml" % (i, slug(m), m.meta["lang"].lower(), tag)
        with open(os.path.join(maildir, name), "wb") as f:
            f.write(m.data)
        names.append(name)
    with open(os.path.join(webdir, "requests.jsonl"), "w", encoding="utf-8") as f:
        for r in web:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(mails, web, names))
    return names


def table(counter, head):
    rows = ["| %s | count |" % head, "|---|---:|"]
    rows += ["| %s | %d |" % (k, v) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(rows)


def readme(mails, web, names):
    kinds = Counter(m.kind for m in mails)
    labels = Counter(m.meta["label"] for m in mails if m.kind != "bounce")
    langs = Counter(m.meta["lang"] for m in mails if m.kind in ("request", "reply"))
    styles = Counter(m.meta["style"] for m in mails)
    stypes = Counter(m.meta["service_type"] for m in mails if m.kind == "request")
    att = sum(1 for m in mails if m.meta["attachments"])
    html_only = sum(1 for m in mails if m.meta["html_only"])
    mis = sum(1 for m in mails if m.meta["mislabelled"])
    wk = Counter(r["_expect"] for r in web)
    wch = Counter(r.get("channel") for r in web if r["_expect"] == "created")
    wlang = Counter(r.get("language") for r in web if r["_expect"] == "created")
    wtier = Counter(r["customer"].get("tier") for r in web if r["_expect"] == "created")
    wtype = Counter(r.get("service_type", "(not given)") for r in web if r["_expect"] == "created")
    new_requests = kinds["request"] + wk["created"]
    expected_tickets = "%d mail + %d web = %d" % (kinds["request"], wk["created"], new_requests)
    return README_TEMPLATE.format(
        n_mail=len(mails), n_web=len(web), n_requests=new_requests, expected=expected_tickets,
        kinds=table(kinds, "kind"), labels=table(labels, "declared charset"), langs=table(langs, "language"),
        styles=table(styles, "client style"), stypes=table(stypes, "service type (scenario)"),
        att=att, html_only=html_only, mis=mis, wk=table(wk, "expected answer"), wch=table(wch, "channel"),
        wlang=table(wlang, "language"), wtier=table(wtier, "tier"), wtype=table(wtype, "service_type"),
        seed=SEED)


README_TEMPLATE = """# petrocs demo data set

Fictitious service requests to a petrochemical services company, used by `tools/demo` to show
the whole system working: e-mail and web/app/on-site/partner requests go into intake, become
tickets, are classified and routed by dispatch, get SLA clocks, letters, surveys and complaints.

Everything here is **generated** by `demo/generate.py` (seed {seed}, standard library only, no
clock): do not edit the files by hand, edit the generator (or `demo/scenarios.py`, which holds
the companies, people and request texts) and run

    python3 demo/generate.py           # rewrite demo/mail, demo/web and this README
    python3 demo/generate.py --check   # regenerate in a temp dir: identical? every .eml parses?

All companies, people, mail domains (`*.example`) and phone numbers are invented.

## Running it

With the system running (`make run`), `tools/demo` waits for every service's `/readyz`, sends
every `mail/*.eml` to intake's SMTP port 2525 in file-name order (envelope sender = the `From`
address, or `<>` for a bounce; recipients = the `To` addresses), posts every web request to
`POST /v1/requests`, waits for dispatch to see every ticket, then plays agents and customers
(respond, resolve, close, answer surveys, accept and close complaints) and prints what each
service reports. `--no-actions` stops after intake; `--corpus DIR` also sends every `*.eml`
under DIR; `-v` prints every SMTP/HTTP answer. Exit status 0 = all answered, 1 = a service
failed or a demo mail was refused, 2 = not ready. Run against a database that already saw the
demo, the mails come back as duplicates, and the driver says so.

## Contents

- `mail/NNN-<kind>-<lang>-<charset>.eml` — {n_mail} raw RFC 5322 messages with CRLF line ends,
  numbered in delivery order (a reply always comes after the mail it answers).
- `web/requests.jsonl` — {n_web} JSON lines for intake's `POST /v1/requests`. Keys starting with
  `_` are for the driver only and are stripped before posting: `_expect` (`created`,
  `duplicate`, `invalid`), `_field` (the field an invalid request should be rejected on),
  `_note`.

New service requests: {expected} (replies, auto-replies, bounces and duplicates excluded).

## Mail, by kind

{kinds}

- **request**: a new service request. Should answer `250 2.0.0 CS-… created`.
- **reply**: the customer writing again in a thread: `In-Reply-To`/`References` carry the
  Message-ID of an earlier demo mail, subject `Re:`/`RE:`/`回复：`; two replies continue an
  earlier reply, so their `References` holds two ids. Should answer `… reply`.
- **autoreply**: out-of-office / 自动回复 answers to petrocs's acceptance letters, marked with
  `Auto-Submitted: auto-replied` and/or `X-Autoreply: yes` (one of them carries only
  `X-Autoreply` + `Precedence: auto_reply`, one only `X-Autoreply` + `X-Autorespond`). Should
  answer `no ticket: …`.
- **bounce**: RFC 3464 `multipart/report; report-type=delivery-status` with
  `message/delivery-status` and `text/rfc822-headers` parts (Postfix style in English, Coremail
  style in Chinese; one is a 4.4.1 "delayed" notice). They carry `Return-Path: <>`, and the
  driver sends them with the null reverse path `MAIL FROM:<>`. Should answer `no ticket: …`.
- **duplicate**: the same Message-ID delivered a second time: two are byte-exact copies, one
  arrived by another route (one extra `Received:` line). Should answer `duplicate of CS-…`.

## Mail, by declared charset (bounces excluded)

{labels}

{mis} message(s) declare `gb2312` but contain GBK-only characters (names with 喆, 镕, 堃),
the way Foxmail and older Outlook send them; a reader that decodes strictly as GB2312 loses
those characters. Some `gb18030` / `GB18030` messages include names with 䶮 (GB18030
two-byte FE 9F, absent from GBK) or 㛃 (a GB18030 four-byte sequence): only GB18030 or UTF-8
carries them, a GBK decoder does not. `big5` messages come from Taiwan / Hong Kong customers
in traditional Chinese.

## Mail, by language (requests and replies)

{langs}

## Mail, by client style

{styles}

What the styles exercise:

- Subjects and display names as RFC 2047 encoded-words, `B` (most) and `Q` (Apple Mail,
  iPhone), long subjects split over several encoded-words on folded lines; Foxmail and QQ Mail
  put encoded-words inside quotes in `From:` (not RFC-compliant, but common).
- Bodies in base64 (Foxmail, Coremail, QQ, iPhone), quoted-printable (Outlook, Apple, Gmail),
  and raw 8bit (Thunderbird, Outlook Express style with GB18030 / Big5 bytes).
- multipart/alternative (text + HTML), HTML-only bodies ({html_only} messages, `oa-html-*`),
  and multipart/mixed with attachments.
- {att} messages carry attachments (PDF, JPEG photo, GBK CSV as exported by Chinese Excel,
  a real minimal XLSX), with Chinese file names encoded four ways: RFC 2231 UTF-8
  (`filename*=UTF-8''…`), RFC 2231 GBK (`filename*=GBK''…`), RFC 2231 continuations
  (`filename*0*=…; filename*1*=…`), and RFC 2047 inside quotes (`filename="=?gb2312?B?…?="`).

## New mail requests, by the scenario's service type

{stypes}

(What the customer wrote is the truth; the service type is the scenario's intent, useful to
judge dispatch's classification, not an instruction to it. Emergency scenarios — leak, fire,
flash explosion, H2S with a worker taken ill, injury, unplanned shutdown — are filed under
safety inspection or equipment maintenance and say so in the subject: 紧急 / 特急 / URGENT.)

## Web / app / on-site / partner requests

{wk}

Valid requests by channel:

{wch}

By language:

{wlang}

By customer tier:

{wtier}

By `service_type` given (some leave it to dispatch):

{wtype}

Every request whose scenario is critical, and every second one, states `urgency` and
`impact`. App and partner requests carry an `external_id`; two of them are sent again with the
same `external_id` (`_expect: duplicate`, intake should answer 200 `duplicate`). The invalid
ones: missing subject, blank subject, two bad e-mail addresses, channel `fax`, urgency
`extreme`.
"""


def validate(maildir, webfile):
    """What the brief promises about the files, checked on the files themselves."""
    problems = []
    msgids = Counter()
    kinds = Counter()
    attachments = 0
    for name in sorted(os.listdir(maildir)):
        raw = open(os.path.join(maildir, name), "rb").read()
        kind = name.split("-")[1]
        kinds[kind] += 1
        if re.search(rb"(?<!\r)\n", raw):
            problems.append("%s: bare LF line end" % name)
        if any(len(l) > 998 for l in raw.split(b"\r\n")):
            problems.append("%s: line longer than 998 octets" % name)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        has_attachment = False
        if msg.defects:
            problems.append("%s: defects %s" % (name, msg.defects))
        for p in msg.walk():
            if p.defects:
                problems.append("%s: part defects %s" % (name, p.defects))
            if p.get_content_maintype() == "text" and not p.is_attachment():
                cs = (p.get_content_charset() or "us-ascii").lower()
                data = p.get_payload(decode=True)
                codec = "gbk" if cs == "gb2312" else cs  # gb2312 labels here carry GBK bytes
                try:
                    data.decode(codec)
                except (UnicodeDecodeError, LookupError) as e:
                    problems.append("%s: %s part does not decode: %s" % (name, cs, e))
                if cs in ("gbk", "gb2312", "gb18030", "big5"):
                    try:
                        data.decode("utf-8")
                        if any(b > 127 for b in data):
                            problems.append("%s: %s part is actually UTF-8" % (name, cs))
                    except UnicodeDecodeError:
                        pass
                    if not any(b > 127 for b in data):
                        problems.append("%s: %s part has no non-ASCII bytes" % (name, cs))
            if p.is_attachment():
                has_attachment = True
                if not p.get_filename():
                    problems.append("%s: attachment without a file name" % name)
        attachments += has_attachment  # mails with at least one attachment
        str(msg["subject"])  # decoding must not raise
        if kind == "req" or kind == "reply":
            msgids[msg["message-id"]] += 1
        if kind == "dup":
            msgids[msg["message-id"]] += 1
        if kind == "reply" and not msg["in-reply-to"]:
            problems.append("%s: reply without In-Reply-To" % name)
        if kind == "bounce" and msg.get_content_type() != "multipart/report":
            problems.append("%s: bounce is not multipart/report" % name)
    dup_ids = [k for k, v in msgids.items() if v > 1]
    web = [json.loads(l) for l in open(webfile, encoding="utf-8")]
    n_web_new = sum(1 for r in web if r["_expect"] == "created")
    counts = {"mails": sum(kinds.values()), "requests": kinds["req"] + n_web_new,
              "attachments": attachments, "replies": kinds["reply"], "autoreplies": kinds["auto"],
              "bounces": kinds["bounce"], "duplicates": len(dup_ids), "web": len(web)}
    for k, minimum in MIN_COUNTS.items():
        if counts[k] < minimum:
            problems.append("only %d %s, need >= %d" % (counts[k], k, minimum))
    if kinds["dup"] != len(dup_ids):
        problems.append("%d dup files but %d repeated Message-IDs" % (kinds["dup"], len(dup_ids)))
    return counts, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir, compare with the committed files, validate")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory (default: demo/)")
    args = ap.parse_args()
    mails, web = build(random.Random(SEED))
    if not args.check:
        write(args.out, mails, web)
        counts, problems = validate(os.path.join(args.out, "mail"), os.path.join(args.out, "web", "requests.jsonl"))
        print("wrote %d mails, %d web requests to %s: %s" % (len(mails), len(web), args.out, counts))
        for p in problems:
            print("PROBLEM:", p, file=sys.stderr)
        return 1 if problems else 0
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp, mails, web)
        problems = []
        for sub in ("mail", "web"):
            cmp = filecmp.dircmp(os.path.join(tmp, sub), os.path.join(args.out, sub))
            for n in cmp.left_only + cmp.right_only + cmp.diff_files:
                problems.append("%s/%s differs from a fresh generation" % (sub, n))
            _, _, errors = filecmp.cmpfiles(os.path.join(tmp, sub), os.path.join(args.out, sub), cmp.common_files, shallow=False)
            problems += ["%s/%s could not be compared" % (sub, n) for n in errors]
        if open(os.path.join(tmp, "README.md"), "rb").read() != open(os.path.join(args.out, "README.md"), "rb").read():
            problems.append("README.md differs from a fresh generation")
    counts, vproblems = validate(os.path.join(args.out, "mail"), os.path.join(args.out, "web", "requests.jsonl"))
    problems += vproblems
    print("checked: %s" % counts)
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    print("OK" if not problems else "%d problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
