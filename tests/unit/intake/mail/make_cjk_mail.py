import base64, hashlib
b64 = lambda b: base64.b64encode(b).decode()
s = "朱镕基路泵站".encode("gbk")
try:
    "镕".encode("gb2312"); print("镕 in gb2312")
except UnicodeEncodeError:
    print("镕 not in gb2312")
a, b = s[:3], s[3:]   # cut inside 镕 (bytes 2..3)
big5 = "高雄廠區儀表校正".encode("cp950")
b1, b2 = big5[:5], big5[5:]  # cut inside 廠 (bytes 4..5)
sj = "配管点検のお願い".encode("cp932")
kr = "정유 공장 점검".encode("euc-kr")
qkr = "".join("_" if c == 0x20 else ("=%02X" % c if c >= 0x80 or c in b"=?_" else chr(c)) for c in kr)
m1 = ("From: =?gb2312?B?%s?= =?gb2312?B?%s?= <zhu@gbk.example>\r\n"
      "To: service@petrocs.example\r\n"
      "Subject: =?gb2312?B?%s?=\r\n =?gb2312?B?%s?=\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee subject\r\n"
      % (b64("朱".encode("gbk")), b64("工".encode("gbk")), b64(a), b64(b)))
open("cjk_subjects_gbk.eml", "wb").write(m1.encode())
m2 = ("From: =?big5?B?%s?= <lin@big5.example>\r\nTo: service@petrocs.example\r\n"
      "Subject: =?big5?B?%s?= =?big5?B?%s?=\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
      % (b64("林工".encode("cp950")), b64(b1), b64(b2))).encode() + "請校正儀表。".encode("cp950") + b"\r\n"
open("cjk_subjects_big5.eml", "wb").write(m2)
m3 = ("From: =?Shift_JIS?B?%s?= <sato@sjis.example>\r\nTo: service@petrocs.example\r\n"
      "Subject: =?Shift_JIS?B?%s?= / =?EUC-KR?Q?%s?=\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\nx\r\n" % (b64("佐藤".encode("cp932")), b64(sj), qkr))
open("cjk_subjects_sjis_euckr.eml", "wb").write(m3.encode())
png = bytes(range(200))
att = "检测数据\n".encode("gbk") * 10
html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=big5">'
        '<title>t</title></head><body><p>壓力表讀數</p><img src="cid:img1@x"><br>第二行&amp;完'
        '</body></html>').encode("cp950")
crlf = lambda b: b.replace(b"\n", b"\r\n")
fwd = (b"From: qa@inner.example\r\nSubject: =?utf-8?B?" + base64.b64encode("内部转发".encode()) + b"?=\r\n"
       b"Message-ID: <inner-1@inner.example>\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=IN\r\n\r\n"
       b"--IN\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n" + "附件为检测数据。".encode("gbk") + b"\r\n"
       b"--IN\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Disposition: attachment; filename=\"data.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       + crlf(base64.encodebytes(att)) + b"--IN--\r\n")
msg = (b"From: ops@nested.example\r\nTo: service@petrocs.example\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
       b"--OUT\r\nContent-Type: multipart/related; boundary=REL\r\n\r\n"
       b"--REL\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + html + b"\r\n"
       b"--REL\r\nContent-Type: image/png\r\nContent-ID: <img1@x>\r\nContent-Disposition: inline\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\n" + crlf(base64.encodebytes(png)) + b"--REL--\r\n"
       b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + fwd + b"--OUT--\r\n")
open("nested_related_forward.eml", "wb").write(msg)
print("png", len(png), hashlib.sha256(png).hexdigest())
print("att", len(att), hashlib.sha256(att).hexdigest())
print("gbk split", a.hex(), "|", b.hex(), " big5 split", b1.hex(), "|", b2.hex())
