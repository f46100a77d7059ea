/*
 * test_mail_parse — the rules intake relies on when it reads a customer e-mail.
 *
 * The crafted messages live in tests/unit/intake/mail/ and are produced by make_mail.py
 * from real GBK / GB18030 / Big5 / ISO-2022-JP / Shift_JIS / EUC-KR bytes. The last tests
 * walk the shared corpus (if present) to show the parser survives mail it was not written
 * for; each subject goes to a log for a human to read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail_parse.h"

#ifndef MAIL_TEST_DIR
#define MAIL_TEST_DIR "tests/unit/intake/mail"
#endif
/* The shared corpus sits beside the repository (../shared/data, run from the
   repository root) or where CS_MAIL_CORPUS says; tests skip when it is absent. */
static const char *s_corpus_dir(void)
{
    const char *d = getenv("CS_MAIL_CORPUS");
    return d && *d ? d : "../shared/data/mail-corpus";
}
#define CORPUS_DIR s_corpus_dir()

/* ---------------------------------------------------------------------------- helpers */

static void assert_clean_string(const char *s)
{
    if (!s)
        return;
    assert_true(g_utf8_validate(s, -1, NULL));
}

/* Every string the parser returns is valid UTF-8 (and, being C strings checked with the
   length the parser itself used, has no embedded NUL). */
static void assert_all_clean(const mail_parsed_t *m)
{
    assert_non_null(m->subject);
    assert_non_null(m->text);
    assert_non_null(m->language);
    assert_non_null(m->references);
    assert_clean_string(m->message_id);
    assert_clean_string(m->in_reply_to);
    for (char **r = m->references; *r; r++)
        assert_clean_string(*r);
    assert_clean_string(m->subject);
    assert_clean_string(m->from_addr);
    assert_clean_string(m->from_name);
    assert_clean_string(m->reply_to_addr);
    assert_clean_string(m->to_addr);
    assert_clean_string(m->text);
    assert_clean_string(m->kind_reason);
    assert_clean_string(m->bounce_original_message_id);
    assert_clean_string(m->bounce_recipient);
    assert_clean_string(m->bounce_status);
    for (size_t i = 0; i < m->attachment_count; i++) {
        assert_clean_string(m->attachments[i].filename);
        assert_clean_string(m->attachments[i].content_type);
        assert_int_equal(strlen(m->attachments[i].sha256), 64);
    }
}

static char *load_file(const char *path, size_t *len)
{
    gchar *data = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &data, &n, NULL))
        fail_msg("cannot read %s", path);
    *len = n;
    return data;
}

/* Parses tests/unit/intake/mail/<name>; fails the test if the parser refuses it. */
static void parse_fixture(const char *name, mail_parsed_t *m)
{
    char path[512], err[256] = "";
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", MAIL_TEST_DIR, name);
    char *raw = load_file(path, &len);
    int rc = mail_parse(raw, len, m, err, sizeof(err));
    g_free(raw);
    if (rc != 0)
        fail_msg("%s: %s", name, err);
    assert_all_clean(m);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack ? haystack : "(null)");
}

/* --------------------------------------------------------------------- charsets */

static void test_gb2312_label_with_gbk_bytes_is_decoded_as_gb18030(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("gbk_labelled_gb2312.eml", &m);
    assert_string_equal(m.subject, "关于储罐阀门泄漏的报修（王堃镕）");
    assert_string_equal(m.from_name, "王堃镕");
    assert_string_equal(m.from_addr, "wang.kunrong@sinochem.example");
    assert_string_equal(m.text, "您好：\n我公司三号储罐阀门泄漏，请尽快安排检修。联系人王堃镕。");
    assert_string_equal(m.language, "zh-CN");
    assert_string_equal(m.message_id, "gbk-1@sinochem.example");
    mail_parsed_free(&m);
}

static void test_gb18030_four_byte_characters_decode(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("gb18030_body.eml", &m);
    assert_string_equal(m.text, "客户名称：𠮷野石化");
    mail_parsed_free(&m);
}

static void test_big5_subject_name_and_quoted_printable_body_decode(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("big5.eml", &m);
    assert_string_equal(m.subject, "繁體中文測試");
    assert_string_equal(m.from_name, "陳先生");
    assert_string_equal(m.text, "請派員檢查管線壓力。");
    mail_parsed_free(&m);
}

static void test_iso_2022_jp_subject_and_body_decode(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("iso2022jp.eml", &m);
    assert_string_equal(m.subject, "配管の点検依頼");
    assert_string_equal(m.from_name, "田中");
    assert_string_equal(m.text, "お世話になっております。\n配管の点検をお願いします。");
    mail_parsed_free(&m);
}

static void test_shift_jis_body_decodes_including_cp932_extensions(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("shift_jis.eml", &m);
    assert_string_equal(m.subject, "ポンプ異音");
    assert_string_equal(m.text, "ポンプの異音について①");
    mail_parsed_free(&m);
}

static void test_euc_kr_and_ks_c_5601_labels_decode(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("euc_kr.eml", &m);
    assert_string_equal(m.subject, "점검 요청");
    assert_string_equal(m.from_name, "김철수");
    assert_string_equal(m.text, "안녕하세요. 보일러 점검을 요청합니다.");
    assert_string_equal(m.language, "en"); /* Hangul is not Han */
    mail_parsed_free(&m);
}

static void test_encoded_words_split_mid_character_are_joined(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("split_encoded_word.eml", &m);
    assert_string_equal(m.subject, "测试邮件标题很长的中文");
    assert_string_equal(m.from_name, "液化气");
    assert_string_equal(m.from_addr, "li@example.cn");
    mail_parsed_free(&m);
}

static void test_undeclared_8bit_tries_utf8_then_gb18030_then_latin1(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("undeclared_gbk.eml", &m);
    assert_string_equal(m.subject, "催办：换热器结垢");
    assert_string_equal(m.text, "换热器结垢严重，请派人处理。");
    mail_parsed_free(&m);

    parse_fixture("undeclared_utf8.eml", &m);
    assert_string_equal(m.subject, "压缩机振动");
    assert_string_equal(m.text, "压缩机振动超标。");
    mail_parsed_free(&m);

    parse_fixture("undeclared_big5_subject.eml", &m);
    assert_string_equal(m.subject, "管線壓力異常"); /* the body's label is tried first */
    assert_string_equal(m.text, "請派員檢查。");
    mail_parsed_free(&m);

    parse_fixture("undeclared_latin1.eml", &m);
    assert_string_equal(m.text, "Réunion au café");
    assert_string_equal(m.language, "en");
    mail_parsed_free(&m);
}

static void test_invalid_bytes_are_replaced_and_never_abort(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("invalid_bytes.eml", &m);
    /* 0xFF and 0x80 are not GB18030 lead bytes; the NUL is dropped */
    assert_string_equal(m.text, "阀门\xEF\xBF\xBD\xEF\xBF\xBD损坏");
    mail_parsed_free(&m);
}

/* ------------------------------------------------------------------ attachments */

static const mail_attachment_t *find_attachment(const mail_parsed_t *m, const char *type)
{
    for (size_t i = 0; i < m->attachment_count; i++)
        if (strcmp(m->attachments[i].content_type, type) == 0)
            return &m->attachments[i];
    fail_msg("no %s attachment", type);
    return NULL;
}

static void test_attachment_file_names_decode_rfc2231_and_split_rfc2047(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("attachments.eml", &m);
    assert_int_equal(m.attachment_count, 3);
    assert_string_equal(m.text, "See attached.");

    const mail_attachment_t *pdf = find_attachment(&m, "application/pdf");
    assert_string_equal(pdf->filename, "检修报告.pdf");
    assert_int_equal(pdf->inline_part, 0);
    /* the decoded content is "%PDF-1.4\n% fake\n" followed by bytes 0..255 */
    guint8 expect[16 + 256];
    memcpy(expect, "%PDF-1.4\n% fake\n", 16);
    for (int i = 0; i < 256; i++)
        expect[16 + i] = (guint8)i;
    gchar *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, expect, sizeof(expect));
    assert_int_equal(pdf->size, sizeof(expect));
    assert_string_equal(pdf->sha256, sum);
    g_free(sum);

    const mail_attachment_t *jpg = find_attachment(&m, "image/jpeg");
    assert_string_equal(jpg->filename, "现场照片-三号储罐.jpg");
    assert_int_equal(jpg->inline_part, 1); /* has a Content-ID */

    const mail_attachment_t *txt = find_attachment(&m, "text/plain");
    assert_string_equal(txt->filename, "设备清单.txt"); /* RFC 2231 continuation */
    assert_int_equal(txt->size, strlen("item,qty"));    /* the CRLF belongs to the boundary */
    mail_parsed_free(&m);
}

/* The fixtures below are written by mail/make_cjk_mail.py from the real encodings
   (Python's gbk, cp950, cp932, euc-kr codecs). */

/* GB2312 declared, GBK bytes, and the word split inside a character: 朱镕基路泵站 is
   d6ec e946 bbf9 c2b7 b1c3 d5be in GBK; 镕 (e946) is not in GB2312. The first word
   carries d6 ec e9, the second 46 bb f9 …: only joined before decoding, and decoded as
   GB18030 (a superset of GBK), does 镕 come out. */
static void test_gb2312_label_gbk_bytes_split_mid_character_in_a_subject(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("cjk_subjects_gbk.eml", &m);
    assert_string_equal(m.subject, "朱镕基路泵站");
    assert_string_equal(m.from_name, "朱工"); /* two adjacent words, one per character */
    assert_string_equal(m.from_addr, "zhu@gbk.example");
    mail_parsed_free(&m);
}

/* Big5: 高雄廠區儀表校正 in CP950 is b0aa b6af bc74 b0cf …; the first word ends after
   bc, the first byte of 廠. The body is raw 8-bit Big5 labelled big5. */
static void test_big5_subject_split_mid_character_and_8bit_body(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("cjk_subjects_big5.eml", &m);
    assert_string_equal(m.subject, "高雄廠區儀表校正");
    assert_string_equal(m.from_name, "林工");
    assert_string_equal(m.text, "請校正儀表。");
    mail_parsed_free(&m);
}

/* Shift_JIS (B) and EUC-KR (Q, with _ for spaces) words in one subject, with a plain
   " / " between them that must stay. */
static void test_shift_jis_and_euc_kr_words_in_one_subject(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("cjk_subjects_sjis_euckr.eml", &m);
    assert_string_equal(m.subject, "配管点検のお願い / 정유 공장 점검");
    assert_string_equal(m.from_name, "佐藤");
    mail_parsed_free(&m);
}

/* HTML-only body (multipart/related, Big5 named only by <meta>) with an inline image,
   then a forwarded message/rfc822 with its own GB2312 text and a CSV attachment.
   png = bytes 0..199: 200 bytes, sha256 1901da1c…1dec6f (hashlib);
   data.csv = "检测数据\n" in GBK ten times: 9 × 10 = 90 bytes, sha256 6709e319…e13507. */
static void test_inline_image_and_a_forwarded_message_with_its_attachment(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("nested_related_forward.eml", &m);
    /* </p> ends a paragraph: a blank line, as a browser shows it */
    assert_string_equal(m.text, "壓力表讀數\n\n"
                                "第二行&完\n\n"
                                "---------- Forwarded message ----------\n"
                                "From: qa@inner.example\n"
                                "Subject: 内部转发\n\n"
                                "附件为检测数据。");
    assert_int_equal(m.attachment_count, 2);
    const mail_attachment_t *png = find_attachment(&m, "image/png");
    assert_int_equal(png->inline_part, 1);
    assert_null(png->filename);
    assert_int_equal(png->size, 200);
    assert_string_equal(png->sha256,
                        "1901da1c9f699b48f6b2636e65cbf73abf99d0441ef67f5c540a42f7051dec6f");
    const mail_attachment_t *csv = find_attachment(&m, "application/octet-stream");
    assert_string_equal(csv->filename, "data.csv");
    assert_int_equal(csv->inline_part, 0);
    assert_int_equal(csv->size, 90);
    assert_string_equal(csv->sha256,
                        "6709e319682020618462d18f063bb3d686318c6b671bcf60d5e7feaf3fe13507");
    mail_parsed_free(&m);
}

/* ------------------------------------------------------------------------ text */

static void test_html_only_message_becomes_readable_text(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("html_only.eml", &m);
    assert_string_equal(m.text, "Dear customer,\n"
                                "\n"
                                "Tank & pipe check <urgent>\n"
                                "second line\n"
                                "\n"
                                "- valve\n"
                                "- pump\n"
                                "\n"
                                "你好 \"ok\"");
    assert_string_equal(m.language, "zh-CN");
    mail_parsed_free(&m);
}

static void test_multipart_alternative_prefers_text_plain(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("alternative.eml", &m);
    assert_string_equal(m.text, "Plain version: 管道巡检");
    assert_int_equal(m.attachment_count, 0);
    mail_parsed_free(&m);
}

static void test_forwarded_message_text_follows_a_separator_line(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("forwarded.eml", &m);
    assert_string_equal(m.text, "请看下面转发的邮件。\n\n"
                                "---------- Forwarded message ----------\n"
                                "From: 孙工 <origin@example.cn>\n"
                                "Subject: 原始报修\n\n"
                                "原始邮件正文：锅炉压力异常。");
    assert_int_equal(m.kind, MAIL_KIND_NORMAL);
    mail_parsed_free(&m);
}

static void test_text_is_capped_at_one_mebibyte_on_a_character_boundary(void **state)
{
    (void)state;
    GString *raw = g_string_new("From: big@example.cn\r\nSubject: big\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    for (int i = 0; i < 400000; i++) /* 1.2 MB of three-byte characters */
        g_string_append(raw, "油");
    mail_parsed_t m;
    char err[128];
    assert_int_equal(mail_parse(raw->str, raw->len, &m, err, sizeof(err)), 0);
    assert_all_clean(&m);
    assert_int_equal(m.text_truncated, 1);
    assert_true(strlen(m.text) <= MAIL_PARSE_MAX_TEXT);
    assert_true(strlen(m.text) > MAIL_PARSE_MAX_TEXT - 4);
    mail_parsed_free(&m);
    g_string_free(raw, TRUE);
}

/* ------------------------------------------------------------------------ kinds */

static void assert_kind(const char *fixture, mail_kind_t kind, const char *reason)
{
    mail_parsed_t m;
    parse_fixture(fixture, &m);
    if (m.kind != kind)
        fail_msg("%s: kind %s, expected %s", fixture, mail_kind_name(m.kind), mail_kind_name(kind));
    if (reason)
        assert_string_equal(m.kind_reason, reason);
    else
        assert_null(m.kind_reason);
    mail_parsed_free(&m);
}

static void test_auto_submitted_other_than_no_is_an_auto_reply(void **state)
{
    (void)state;
    assert_kind("auto_submitted.eml", MAIL_KIND_AUTO_REPLY, "Auto-Submitted: auto-replied");
    assert_kind("auto_submitted_no.eml", MAIL_KIND_NORMAL, NULL);
}

static void test_precedence_bulk_or_junk_is_bulk(void **state)
{
    (void)state;
    assert_kind("precedence_bulk.eml", MAIL_KIND_BULK, "Precedence: bulk");
    assert_kind("precedence_junk.eml", MAIL_KIND_BULK, "Precedence: junk");
}

static void test_list_id_alone_is_bulk(void **state)
{
    (void)state;
    assert_kind("list_id.eml", MAIL_KIND_BULK, "List-Id");
}

static void test_x_autoreply_and_x_autorespond_are_auto_replies(void **state)
{
    (void)state;
    assert_kind("x_autoreply.eml", MAIL_KIND_AUTO_REPLY, "X-Autoreply");
    assert_kind("x_autorespond.eml", MAIL_KIND_AUTO_REPLY, "X-Autorespond");
}

static void test_x_auto_response_suppress_alone_is_a_person(void **state)
{
    (void)state;
    assert_kind("x_auto_response_suppress.eml", MAIL_KIND_NORMAL, NULL);
}

static void test_delivery_status_report_is_a_bounce_with_its_facts(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("bounce_report.eml", &m);
    assert_int_equal(m.kind, MAIL_KIND_BOUNCE); /* beats its Auto-Submitted header */
    assert_string_equal(m.kind_reason, "delivery-status report");
    assert_string_equal(m.bounce_recipient, "nobody@customer.example");
    assert_string_equal(m.bounce_status, "5.1.1");
    assert_string_equal(m.bounce_original_message_id, "ticket-2025-0042@petrocs.example");
    assert_contains(m.text, "Delivery to the following recipient failed permanently.");
    mail_parsed_free(&m);
}

static void test_postmaster_mail_with_a_dsn_part_is_a_bounce(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("bounce_postmaster.eml", &m);
    assert_int_equal(m.kind, MAIL_KIND_BOUNCE);
    assert_string_equal(m.kind_reason, "mailer-daemon delivery-status");
    assert_string_equal(m.bounce_recipient, "full@example.org");
    assert_string_equal(m.bounce_status, "5.2.2");
    assert_string_equal(m.bounce_original_message_id, "ticket-2025-0042@petrocs.example");
    mail_parsed_free(&m);
}

/* ---------------------------------------------------------------- header fields */

static void test_thread_ids_addresses_and_date_are_extracted(void **state)
{
    (void)state;
    mail_parsed_t m;
    parse_fixture("threading.eml", &m);
    assert_string_equal(m.message_id, "reply-1@example.cn");
    assert_string_equal(m.in_reply_to, "ticket-2025-0042@petrocs.example");
    assert_non_null(m.references[0]);
    assert_string_equal(m.references[0], "root@petrocs.example");
    assert_string_equal(m.references[1], "ticket-2025-0042@petrocs.example");
    assert_null(m.references[2]);
    assert_string_equal(m.from_addr, "zhou.min@example.cn");
    assert_string_equal(m.from_name, "Zhou, Min");
    assert_string_equal(m.reply_to_addr, "tickets@example.cn");
    assert_string_equal(m.to_addr, "service@petrocs.example");
    assert_true(m.date_ms == INT64_C(1741051815000)); /* 2025-03-04T01:30:15Z */
    assert_string_equal(m.subject, "Re: Ticket 2025-0042");
    assert_string_equal(m.language, "en");
    mail_parsed_free(&m);
}

static void test_missing_fields_have_documented_defaults(void **state)
{
    (void)state;
    static const char raw[] = "X-Nothing: here\r\n\r\n";
    mail_parsed_t m;
    char err[128];
    assert_int_equal(mail_parse(raw, sizeof(raw) - 1, &m, err, sizeof(err)), 0);
    assert_all_clean(&m);
    assert_string_equal(m.subject, "");
    assert_string_equal(m.text, "");
    assert_null(m.message_id);
    assert_null(m.in_reply_to);
    assert_null(m.references[0]);
    assert_null(m.from_addr);
    assert_null(m.from_name);
    assert_true(m.date_ms == 0);
    assert_int_equal(m.kind, MAIL_KIND_NORMAL);
    mail_parsed_free(&m);
}

static void test_unparseable_date_and_from_give_zero_and_null(void **state)
{
    (void)state;
    static const char raw[] = "Date: sometime last week\r\nFrom: not an address\r\n"
                              "Subject: x\r\n\r\nbody\r\n";
    mail_parsed_t m;
    char err[128];
    assert_int_equal(mail_parse(raw, sizeof(raw) - 1, &m, err, sizeof(err)), 0);
    assert_true(m.date_ms == 0);
    assert_null(m.from_addr);
    assert_string_equal(m.text, "body");
    mail_parsed_free(&m);
}

/* ------------------------------------------------------------------- hostility */

static void test_input_without_a_header_section_is_refused_with_a_reason(void **state)
{
    (void)state;
    mail_parsed_t m;
    char err[128] = "";
    static const char raw[] = "\r\njust a body\r\n";
    assert_int_equal(mail_parse(raw, sizeof(raw) - 1, &m, err, sizeof(err)), -1);
    assert_contains(err, "no header section");
    assert_int_equal(mail_parse("", 0, &m, err, sizeof(err)), -1);
    assert_contains(err, "empty");
    assert_int_equal(mail_parse(NULL, 10, &m, err, sizeof(err)), -1);
}

/* Runs the parser over input and checks the contract: 0 with clean strings, or -1 with a
   message. */
static void parse_anything(const char *raw, size_t len)
{
    mail_parsed_t m;
    char err[256] = "";
    int rc = mail_parse(raw, len, &m, err, sizeof(err));
    if (rc == 0) {
        assert_all_clean(&m);
        mail_parsed_free(&m);
        assert_null(m.subject); /* free leaves it zeroed */
    } else {
        assert_int_equal(rc, -1);
        assert_true(err[0] != '\0');
    }
}

static void test_hostile_inputs_never_crash(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "Content-Type: text/plain; charset=\"\r\n",
        "Content-Type: text/plain; charset=x\r\n Subject: =?\r\n",
        "Subject: =?gb2312?B?====?=\r\n\r\n",
        "Subject: =?x?Q?=\r\n\r\n",
        "Subject: =??B?AAAA?= =?utf-8?X?a?= =?utf-8?B?\r\n\r\n",
        "Subject: =?no-such-charset?B?5rWL?=\r\n\r\n",
        "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
        "Content-Type: multipart/mixed\r\n\r\n--x\r\nfoo\r\n",
        "Content-Type: text/plain; charset=\"\r\n\r\n\xff\xfe\xfd",
        "Content-Type: text/html\r\n\r\n<script>never closed <b",
        "Content-Type: text/html\r\n\r\n&#0;&#xD800;&#99999999999;&amp&;<!-- open",
        "Content-Type: message/rfc822\r\n\r\n",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: ;\r\n"
        "Status: x\r\n--b--\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_anything(cases[i], strlen(cases[i]));

    /* NUL bytes inside headers and body */
    static const char nul1[] = "From: =?utf-8?B?AA==?= <\x00@x>\r\n\r\n";
    static const char nul2[] = "Subject: a\x00b\x01\x02\r\n\r\n\x00\x00text";
    parse_anything(nul1, sizeof(nul1) - 1);
    parse_anything(nul2, sizeof(nul2) - 1);

    /* deep nesting: 500 levels of multipart */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 500; i++)
        g_string_append_printf(deep, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
                               i, i);
    g_string_append(deep, "Content-Type: text/plain\r\n\r\ndeep\r\n");
    parse_anything(deep->str, deep->len);
    g_string_free(deep, TRUE);

    /* deterministic random bytes after a minimal header */
    GRand *rnd = g_rand_new_with_seed(42);
    for (int round = 0; round < 200; round++) {
        GString *junk =
            g_string_new("Subject: fuzz\r\nContent-Type: text/plain; charset=gbk\r\n\r\n");
        int n = g_rand_int_range(rnd, 0, 4096);
        for (int i = 0; i < n; i++)
            g_string_append_c(junk, (char)g_rand_int_range(rnd, 0, 256));
        parse_anything(junk->str, junk->len);
        g_string_free(junk, TRUE);
    }
    g_rand_free(rnd);
}

static void test_free_accepts_null_and_zeroes(void **state)
{
    (void)state;
    mail_parsed_free(NULL);
    mail_parsed_t m;
    parse_fixture("threading.eml", &m);
    mail_parsed_free(&m);
    assert_null(m.message_id);
    assert_null(m.references);
    assert_int_equal(m.attachment_count, 0);
}

/* ---------------------------------------------------------------------- corpus */

static void corpus_collect(const char *dir, GPtrArray *out, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 8) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = g_build_filename(dir, e->d_name, NULL);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            corpus_collect(path, out, depth + 1);
        else if (g_str_has_suffix(e->d_name, ".eml"))
            g_ptr_array_add(out, g_strdup(path));
        g_free(path);
    }
    closedir(d);
}

static int corpus_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_corpus_message_parses_to_clean_utf8(void **state)
{
    (void)state;
    if (!g_file_test(CORPUS_DIR, G_FILE_TEST_IS_DIR))
        skip();
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    corpus_collect(CORPUS_DIR, files, 0);
    g_ptr_array_sort(files, corpus_cmp);
    const char *log_path =
        getenv("MAIL_PARSE_LOG") ? getenv("MAIL_PARSE_LOG") : "/tmp/petrocs_mail_parse_corpus.log";
    FILE *log = fopen(log_path, "w");
    assert_non_null(log);
    int ok = 0, refused = 0;
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        size_t len;
        char *raw = load_file(path, &len);
        mail_parsed_t m;
        char err[256] = "";
        if (mail_parse(raw, len, &m, err, sizeof(err)) == 0) {
            assert_all_clean(&m);
            fprintf(log, "%s\tkind=%s\tlang=%s\tatt=%zu\tfrom=%s\tsubject=%s\n",
                    path + strlen(CORPUS_DIR) + 1, mail_kind_name(m.kind), m.language,
                    m.attachment_count, m.from_addr ? m.from_addr : "-", m.subject);
            mail_parsed_free(&m);
            ok++;
        } else {
            assert_true(err[0] != '\0');
            fprintf(log, "%s\tREFUSED: %s\n", path + strlen(CORPUS_DIR) + 1, err);
            refused++;
        }
        g_free(raw);
    }
    fprintf(log, "# %d parsed, %d refused\n", ok, refused);
    fclose(log);
    print_message("corpus: %d parsed, %d refused, log in %s\n", ok, refused, log_path);
    assert_true(files->len > 0);
    g_ptr_array_free(files, TRUE);
}

/* Parses a corpus file by its path below the corpus directory; skips if absent. */
static int parse_corpus(const char *rel, mail_parsed_t *m)
{
    char *path = g_build_filename(CORPUS_DIR, rel, NULL);
    int present = g_file_test(path, G_FILE_TEST_EXISTS);
    if (present) {
        size_t len;
        char err[256] = "";
        char *raw = load_file(path, &len);
        if (mail_parse(raw, len, m, err, sizeof(err)) != 0)
            fail_msg("%s: %s", rel, err);
        g_free(raw);
        assert_all_clean(m);
    }
    g_free(path);
    return present;
}

static void test_known_corpus_messages_decode_exactly(void **state)
{
    (void)state;
    mail_parsed_t m;
    if (!parse_corpus("mikel-mail/multi_charset/japanese.eml", &m))
        skip();
    assert_string_equal(m.subject, "まみむめも");
    mail_parsed_free(&m);

    if (parse_corpus("mikel-mail/multi_charset/japanese_iso_2022.eml", &m)) {
        assert_string_equal(m.text, "すみません。");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/multi_charset/japanese_shift_jis.eml", &m)) {
        assert_contains(m.text, "あいうえお");
        assert_contains(m.text, "今後ともよろしくお願い申し上げます！");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/multi_charset/ks_c_5601-1987.eml", &m)) {
        assert_string_equal(m.text, "스티해");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/multi_charset/japanese_attachment_long_name.eml", &m)) {
        assert_int_equal(m.attachment_count, 1);
        assert_string_equal(m.attachments[0].filename,
                            "かきくけこかきくけこかきくけこかきくけこかきくけこ.txt");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/multi_charset/japanese_attachment.eml", &m)) {
        assert_int_equal(m.attachment_count, 1);
        assert_string_equal(m.attachments[0].filename, "てすと.txt");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/error_emails/bad_encoded_subject.eml", &m)) {
        assert_string_equal(m.subject, "TEST"); /* =?NONE?B?VEVTVA=?=, padding short */
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/rfc6532/utf8_headers.eml", &m)) {
        assert_string_equal(m.from_name, "Jöhn Doe");
        assert_string_equal(m.subject, "Säying Hello");
        mail_parsed_free(&m);
    }
    if (parse_corpus("mikel-mail/multipart_report_emails/report_530.eml", &m)) {
        assert_int_equal(m.kind, MAIL_KIND_BOUNCE);
        assert_string_equal(m.from_addr, "mailer-daemon@tttttt.com.au");
        mail_parsed_free(&m);
    }
}

/* Subject and sender of corpus messages in as many encodings, each worked out by reading
   the raw file (bytes quoted below) and decoding by hand / with Python's codecs. */
typedef struct {
    const char *file, *subject, *from_addr, *from_name; /* from_name NULL: none */
} s_corpus_case_t;

static const s_corpus_case_t s_corpus_cases[] = {
    /* =?EUC-KR?Q?NOTE:_=C7=D1=B1=B9=B8=BB=B7=CE_=C7=CF=B4=C2_=B0=CD?=: C7D1 한, B1B9 국,
       B8BB 말, B7CE 로 / C7CF 하, B4C2 는 / B0CD 것; '_' is a space */
    {"mikel-mail/plain_emails/raw_email_string_in_date_field.eml", "NOTE: 한국말로 하는 것",
     "mikel@me.com", NULL},
    /* "Re: TEST" CRLF " " CRLF TAB =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= CRLF "  " the same
       word: ESC $ B "%F%9%H" ESC ( B is テスト (JIS 2546 2539 2548); unfolding keeps the
       space and the tab before the first word, the white space between the two words goes */
    {"mikel-mail/rfc2822/example14.eml", "Re: TEST \tテストテスト", "atsushi@example.com",
     "Atsushi Yoshida"},
    /* eight UTF-8 B/Q words folded one per line: "MySurvey" ".com:  Y" "ou have " "a survey"
       " waiting" "!  " then Q "91123105" and an empty B word; the From name likewise
       "MySurvey" ".com & C" "arol Ada" "ms" */
    {"mikel-mail/error_emails/bad_subject.eml",
     "MySurvey.com:  You have a survey waiting!  91123105", "carol@mysurvey.com",
     "MySurvey.com & Carol Adams"},
    /* plain text around words: Iua8ouWtlyI= is 22 e6bca2 e5ad97 22, i.e. "漢字" with quotes */
    {"mikel-mail/plain_emails/raw_email_with_partially_quoted_subject.eml",
     "Re: Test: \"漢字\" mid \"漢字\" tail", "jamis@37signals.com", "Jamis Buck"},
    /* raw 8-bit subject "Forma\xe7\xe3o … Ver\xe3o", no charset declared at the top; the From
       name is =?Windows-1252?B?Rm9ybWHn428gRnJlbmV0aWtwb2xpcw==?= ("Forma" e7 e3 "o …"): the
       client's Windows-1252 is the hint for its raw bytes (e7 ç, e3 ã) */
    {"mikel-mail/error_emails/invalid_subject_characters.eml",
     "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro",
     "info@formacaofrenetik.info", "Formação Frenetikpolis"},
    /* =?ISO-8859-1?Q?Eelanal=FC=FCsi_p=E4ring?=: FC ü, E4 ä */
    {"mikel-mail/attachment_emails/attachment_with_quoted_filename.eml", "Eelanalüüsi päring",
     "jeff@37signals.com", "Jeffrey Hardy"},
    /* =?ISO-8859-1?Q?Nicolas_Fouch=E9_has_…?=: E9 é */
    {"mikel-mail/mime_emails/raw_email_encoded_stack_level_too_deep.eml",
     "Nicolas Fouché has accepted your invitation to Gmail", "gmail-noreply@google.com",
     "Gmail Team"},
    /* raw UTF-8 in the header: f09f8e89 U+1F389 🎉, f09f8dbf U+1F37F 🍿 */
    {"mikel-mail/attachment_emails/attachment_pdf.eml",
     "Another PDF with 🎉 Unicode chars in it 🍿", "xxxx@xxxx.com", "Test Tester"},
    /* four utf-8 B words each ending mid-character (the first ends after まみむめもまみむめも
       まみむ, the second starts with め): ten times まみむめも once joined */
    {"mikel-mail/multi_charset/japanese_attachment_long_name.eml",
     "まみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめも"
     "まみむめもまみむめも",
     "mikel@test.lindsaar.net", "Mikel Lindsaar"},
    /* RFC 6532: raw UTF-8 "S\xc3\xa4ying Hello", From "J\xc3\xb6hn Doe"
       <jd\xc3\xb6e@m\xc3\xa4chine> */
    {"mikel-mail/rfc6532/utf8_headers.eml", "Säying Hello", "jdöe@mächine.example", "Jöhn Doe"},
    /* =?UTF-8?B?44G+44G/44KA44KB44KC?= = e381be e381bf e38280 e38281 e38282 */
    {"mikel-mail/multi_charset/japanese.eml", "まみむめも", "raasdnil@gmail.com", "Mikel Lindsaar"},
    /* plain ASCII, a MAILER-DAEMON address lower-cased */
    {"mikel-mail/multipart_report_emails/report_530.eml",
     "Returned mail: see transcript for details", "mailer-daemon@tttttt.com.au",
     "Mail Delivery Subsystem"},
};

static void test_corpus_subjects_and_senders_decode_as_read_by_hand(void **state)
{
    (void)state;
    int checked = 0;
    for (size_t i = 0; i < sizeof(s_corpus_cases) / sizeof(s_corpus_cases[0]); i++) {
        const s_corpus_case_t *c = &s_corpus_cases[i];
        mail_parsed_t m;
        if (!parse_corpus(c->file, &m))
            continue;
        if (strcmp(m.subject, c->subject) != 0)
            fail_msg("%s: subject \"%s\", expected \"%s\"", c->file, m.subject, c->subject);
        if (!m.from_addr || strcmp(m.from_addr, c->from_addr) != 0)
            fail_msg("%s: from %s, expected %s", c->file, m.from_addr ? m.from_addr : "(null)",
                     c->from_addr);
        if (c->from_name ? !m.from_name || strcmp(m.from_name, c->from_name) != 0
                         : m.from_name != NULL)
            fail_msg("%s: name %s, expected %s", c->file, m.from_name ? m.from_name : "(null)",
                     c->from_name ? c->from_name : "(null)");
        mail_parsed_free(&m);
        checked++;
    }
    if (checked == 0)
        skip();
    print_message("corpus: %d subjects and senders checked\n", checked);
}

int main(void)
{
    mail_parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gb2312_label_with_gbk_bytes_is_decoded_as_gb18030),
        cmocka_unit_test(test_gb18030_four_byte_characters_decode),
        cmocka_unit_test(test_big5_subject_name_and_quoted_printable_body_decode),
        cmocka_unit_test(test_iso_2022_jp_subject_and_body_decode),
        cmocka_unit_test(test_shift_jis_body_decodes_including_cp932_extensions),
        cmocka_unit_test(test_euc_kr_and_ks_c_5601_labels_decode),
        cmocka_unit_test(test_encoded_words_split_mid_character_are_joined),
        cmocka_unit_test(test_undeclared_8bit_tries_utf8_then_gb18030_then_latin1),
        cmocka_unit_test(test_invalid_bytes_are_replaced_and_never_abort),
        cmocka_unit_test(test_attachment_file_names_decode_rfc2231_and_split_rfc2047),
        cmocka_unit_test(test_gb2312_label_gbk_bytes_split_mid_character_in_a_subject),
        cmocka_unit_test(test_big5_subject_split_mid_character_and_8bit_body),
        cmocka_unit_test(test_shift_jis_and_euc_kr_words_in_one_subject),
        cmocka_unit_test(test_inline_image_and_a_forwarded_message_with_its_attachment),
        cmocka_unit_test(test_html_only_message_becomes_readable_text),
        cmocka_unit_test(test_multipart_alternative_prefers_text_plain),
        cmocka_unit_test(test_forwarded_message_text_follows_a_separator_line),
        cmocka_unit_test(test_text_is_capped_at_one_mebibyte_on_a_character_boundary),
        cmocka_unit_test(test_auto_submitted_other_than_no_is_an_auto_reply),
        cmocka_unit_test(test_precedence_bulk_or_junk_is_bulk),
        cmocka_unit_test(test_list_id_alone_is_bulk),
        cmocka_unit_test(test_x_autoreply_and_x_autorespond_are_auto_replies),
        cmocka_unit_test(test_x_auto_response_suppress_alone_is_a_person),
        cmocka_unit_test(test_delivery_status_report_is_a_bounce_with_its_facts),
        cmocka_unit_test(test_postmaster_mail_with_a_dsn_part_is_a_bounce),
        cmocka_unit_test(test_thread_ids_addresses_and_date_are_extracted),
        cmocka_unit_test(test_missing_fields_have_documented_defaults),
        cmocka_unit_test(test_unparseable_date_and_from_give_zero_and_null),
        cmocka_unit_test(test_input_without_a_header_section_is_refused_with_a_reason),
        cmocka_unit_test(test_hostile_inputs_never_crash),
        cmocka_unit_test(test_free_accepts_null_and_zeroes),
        cmocka_unit_test(test_every_corpus_message_parses_to_clean_utf8),
        cmocka_unit_test(test_known_corpus_messages_decode_exactly),
        cmocka_unit_test(test_corpus_subjects_and_senders_decode_as_read_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
