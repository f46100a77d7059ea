/*
 * survey_page.c - HTML for the survey answer link and the parser for the
 * posted answer (see survey_page.h for what the pages promise).
 *
 * Pages are built in a small growable buffer; every value that is not a
 * literal of this file goes through s_put_escaped().  Wording lives in one
 * table per language so a translator reads it in one place.
 */
#include "survey_page.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- wording */

typedef struct {
    const char *html_lang;
    const char *title;
    const char *ticket_label;
    const char *intro;
    const char *q_satisfaction;
    const char *satisfaction_labels[5];
    const char *q_recommend;
    const char *recommend_low;
    const char *recommend_high;
    const char *q_speed;
    const char *q_professionalism;
    const char *scale_low; /* hint under the 1..5 scales */
    const char *scale_high;
    const char *q_comment;
    const char *submit;
    const char *err_speed;
    const char *err_professionalism;
    const char *label_speed;
    const char *label_professionalism;
    const char *optout_link;
    const char *optout_title;
    const char *optout_body;
    const char *optout_button;
    const char *optout_done_title;
    const char *optout_done_body;
    const char *err_satisfaction;
    const char *err_recommend;
    const char *err_comment;
    const char *err_form;
    const char *thanks_title;
    const char *thanks_body;
    const char *follow_up;
    const char *answered_title;
    const char *answered_body;
    const char *label_satisfaction; /* short labels for the recorded answer */
    const char *label_recommend;
    const char *label_comment;
    const char *not_given;
    const char *no_comment;
    const char *expired_title;
    const char *expired_body;
    const char *invalid_title;
    const char *invalid_body;
} page_text_t;

static const page_text_t s_text_zh = {
    .html_lang = "zh-CN",
    .title = "服务满意度调查",
    .ticket_label = "工单号：",
    .intro = "感谢您选择我们的服务。请花一分钟告诉我们您对本次服务的评价。",
    .q_satisfaction = "您对本次服务的总体满意度如何？",
    .satisfaction_labels = {"很不满意", "不满意", "一般", "满意", "非常满意"},
    .q_recommend = "您有多大可能向同事或合作伙伴推荐我们？（选填）",
    .recommend_low = "0 = 完全不可能",
    .recommend_high = "10 = 极有可能",
    .q_speed = "您对我们的响应速度满意吗？（选填）",
    .q_professionalism = "您对工程师/客服人员的专业水平满意吗？（选填）",
    .scale_low = "1 = 很不满意",
    .scale_high = "5 = 非常满意",
    .q_comment = "其他意见或建议（选填，最多 2000 字）",
    .submit = "提交评价",
    .err_speed = "响应速度请选择 1 到 5 之间的分数。",
    .err_professionalism = "专业水平请选择 1 到 5 之间的分数。",
    .label_speed = "响应速度",
    .label_professionalism = "专业水平",
    .optout_link = "不再接收满意度调查",
    .optout_title = "退订满意度调查",
    .optout_body = "确认后，我们将不再向您发送满意度调查邀请。您的服务请求不受影响。",
    .optout_button = "确认退订",
    .optout_done_title = "已退订满意度调查",
    .optout_done_body = "我们已记录您的选择，今后不再向您发送满意度调查邀请。",
    .err_satisfaction = "请选择 1 到 5 之间的满意度。",
    .err_recommend = "推荐意愿请选择 0 到 10 之间的分数。",
    .err_comment = "意见内容无效或超过 2000 字，请修改后再提交。",
    .err_form = "提交的内容无法识别，请重新填写。",
    .thanks_title = "感谢您的评价",
    .thanks_body = "您的反馈已收到，我们将据此持续改进服务。",
    .follow_up = "我们的服务经理将尽快与您联系，了解详细情况。",
    .answered_title = "您已提交过本次调查",
    .answered_body = "每份调查只能提交一次。以下是您提交的评价：",
    .label_satisfaction = "总体满意度",
    .label_recommend = "推荐意愿",
    .label_comment = "意见或建议",
    .not_given = "未填写",
    .no_comment = "无",
    .expired_title = "调查链接已过期",
    .expired_body = "此调查链接已超过有效期。如需反馈本次服务的意见，请联系客服中心。",
    .invalid_title = "调查链接无效",
    .invalid_body = "无法识别此链接。请确认链接完整无误，或联系客服中心。",
};

static const page_text_t s_text_en = {
    .html_lang = "en",
    .title = "Service satisfaction survey",
    .ticket_label = "Ticket ",
    .intro = "Thank you for choosing our service. Please take a minute to tell us how we did.",
    .q_satisfaction = "Overall, how satisfied are you with this service?",
    .satisfaction_labels = {"Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied",
                            "Very satisfied"},
    .q_recommend = "How likely are you to recommend us to a colleague or partner? (optional)",
    .recommend_low = "0 = not at all likely",
    .recommend_high = "10 = extremely likely",
    .q_speed = "How satisfied are you with how quickly we responded? (optional)",
    .q_professionalism = "How satisfied are you with our staff's professionalism? (optional)",
    .scale_low = "1 = very dissatisfied",
    .scale_high = "5 = very satisfied",
    .q_comment = "Anything else you would like to tell us? (optional, up to 2000 characters)",
    .submit = "Send",
    .err_speed = "Please choose a response speed score from 1 to 5.",
    .err_professionalism = "Please choose a professionalism score from 1 to 5.",
    .label_speed = "Response speed",
    .label_professionalism = "Professionalism",
    .optout_link = "Stop survey invitations",
    .optout_title = "Stop survey invitations",
    .optout_body = "Once you confirm, we will not send you satisfaction surveys any more. "
                   "Your service requests are not affected.",
    .optout_button = "Confirm",
    .optout_done_title = "You will get no more surveys",
    .optout_done_body = "We have recorded your choice and will not send you satisfaction "
                        "surveys any more.",
    .err_satisfaction = "Please choose a satisfaction score from 1 to 5.",
    .err_recommend = "Please choose a score from 0 to 10.",
    .err_comment = "The comment is invalid or longer than 2000 characters; please shorten it.",
    .err_form = "We could not read what was sent; please fill in the form again.",
    .thanks_title = "Thank you for your feedback",
    .thanks_body = "Your answer has been recorded and will help us improve our service.",
    .follow_up = "A service manager will contact you shortly to hear more.",
    .answered_title = "You have already answered this survey",
    .answered_body = "Each survey can be answered once. This is the answer we recorded:",
    .label_satisfaction = "Satisfaction",
    .label_recommend = "Likelihood to recommend",
    .label_comment = "Comment",
    .not_given = "not given",
    .no_comment = "none",
    .expired_title = "This survey link has expired",
    .expired_body = "The link is no longer valid. If you would like to tell us about the "
                    "service, please contact our customer service centre.",
    .invalid_title = "This survey link is not valid",
    .invalid_body = "We could not recognise this link. Please check that it is complete, or "
                    "contact our customer service centre.",
};

static const page_text_t *s_text(survey_lang_t lang)
{
    return lang == SURVEY_LANG_EN ? &s_text_en : &s_text_zh;
}

survey_lang_t survey_lang_from_tag(const char *tag)
{
    if (tag && strncasecmp(tag, "en", 2) == 0 && (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_'))
        return SURVEY_LANG_EN;
    return SURVEY_LANG_ZH_CN;
}

/* ------------------------------------------------------------- buffer */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* out of memory once = the page is lost */
} page_buf_t;

static void s_putn(page_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void s_put(page_buf_t *b, const char *s)
{
    s_putn(b, s, strlen(s));
}

static void s_putf(page_buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = true; /* only used for short literals and numbers */
        return;
    }
    s_putn(b, tmp, (size_t)n);
}

/* Escape the five characters that matter in element content and in quoted
 * attribute values. */
static void s_put_escaped(page_buf_t *b, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *entity = NULL;
        switch (*s) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        }
        if (entity) {
            s_putn(b, run, (size_t)(s - run));
            s_put(b, entity);
            run = s + 1;
        }
    }
    s_putn(b, run, (size_t)(s - run));
}

static char *s_finish(page_buf_t *b)
{
    if (b->failed) {
        free(b->data);
        return NULL;
    }
    return b->data;
}

/* ------------------------------------------------------------- layout */

static const char s_css[] =
    "body{margin:0;background:#f4f6f8;color:#1c2733;font:16px/1.5 -apple-system,"
    "\"PingFang SC\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif}"
    "main{max-width:36rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.35rem;margin:.5rem 0 1rem}"
    ".ticket{color:#5b6b7a}"
    "fieldset{border:0;margin:0 0 1.25rem;padding:0}"
    "legend{font-weight:600;margin-bottom:.5rem}"
    ".scale{display:flex;flex-wrap:wrap;gap:.4rem}"
    ".scale label{flex:1 0 2.75rem;min-height:2.75rem;display:flex;flex-direction:column;"
    "align-items:center;justify-content:center;padding:.25rem;background:#fff;"
    "border:1px solid #b8c2cc;border-radius:.4rem;font-size:.8rem;text-align:center}"
    ".scale input{accent-color:#0b5cad}"
    ".hint{display:flex;justify-content:space-between;font-size:.8rem;color:#5b6b7a}"
    "textarea{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;"
    "border:1px solid #b8c2cc;border-radius:.4rem}"
    "button{width:100%;min-height:3rem;margin-top:1rem;font:inherit;font-weight:600;"
    "color:#fff;background:#0b5cad;border:0;border-radius:.4rem}"
    ".error{color:#b00020;font-weight:600}"
    "dt{font-weight:600}dd{margin:0 0 .75rem}.comment{white-space:pre-wrap}"
    ".optout{margin-top:2rem;font-size:.8rem;text-align:center}.optout a{color:#5b6b7a}";

static void s_head(page_buf_t *b, const page_text_t *t, const char *title)
{
    s_put(b, "<!DOCTYPE html>\n<html lang=\"");
    s_put(b, t->html_lang);
    s_put(b, "\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<meta name=\"referrer\" content=\"no-referrer\">\n"
             "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
    s_put_escaped(b, title);
    s_put(b, "</title>\n<style>");
    s_put(b, s_css);
    s_put(b, "</style>\n</head>\n<body>\n<main>\n<h1>");
    s_put_escaped(b, title);
    s_put(b, "</h1>\n");
}

static void s_ticket(page_buf_t *b, const page_text_t *t, const char *ticket_number)
{
    if (!ticket_number || !*ticket_number)
        return;
    s_put(b, "<p class=\"ticket\">");
    s_put_escaped(b, t->ticket_label);
    s_put(b, "<strong>");
    s_put_escaped(b, ticket_number);
    s_put(b, "</strong></p>\n");
}

static void s_paragraph(page_buf_t *b, const char *cls, const char *text)
{
    if (cls) {
        s_put(b, "<p class=\"");
        s_put(b, cls);
        s_put(b, "\">");
    } else {
        s_put(b, "<p>");
    }
    s_put_escaped(b, text);
    s_put(b, "</p>\n");
}

static void s_tail(page_buf_t *b)
{
    s_put(b, "</main>\n</body>\n</html>\n");
}

/* A simple page: title, optional ticket, one or two paragraphs. */
static char *s_simple_page(survey_lang_t lang, const char *title, const char *ticket_number,
                           const char *body, const char *extra)
{
    const page_text_t *t = s_text(lang);
    page_buf_t b = {0};

    s_head(&b, t, title);
    s_ticket(&b, t, ticket_number);
    s_paragraph(&b, NULL, body);
    if (extra)
        s_paragraph(&b, NULL, extra);
    s_tail(&b);
    return s_finish(&b);
}

/* ----------------------------------------------------------------- form */

static bool s_bad(const survey_answer_t *entered, const char *field)
{
    return entered && entered->bad_field && strcmp(entered->bad_field, field) == 0;
}

/* One row of radio buttons name=lo..hi; labels[] (may be NULL) under each. */
static void s_radio_scale(page_buf_t *b, const char *name, int lo, int hi, int selected,
                          const char *const *labels)
{
    s_put(b, "<div class=\"scale\">\n");
    for (int v = lo; v <= hi; v++) {
        s_putf(b, "<label><input type=\"radio\" name=\"%s\" value=\"%d\"%s%s><b>%d</b>", name, v,
               v == selected ? " checked" : "",
               (v == lo && strcmp(name, "satisfaction") == 0) ? " required" : "", v);
        if (labels) {
            s_put(b, "<span>");
            s_put_escaped(b, labels[v - lo]);
            s_put(b, "</span>");
        }
        s_put(b, "</label>\n");
    }
    s_put(b, "</div>\n");
}

/* An optional 1..5 question with its hint line. */
static void s_five_scale(page_buf_t *b, const page_text_t *t, const survey_answer_t *entered,
                         const char *name, const char *question, const char *error, int selected)
{
    s_put(b, "<fieldset>\n<legend>");
    s_put_escaped(b, question);
    s_put(b, "</legend>\n");
    if (s_bad(entered, name))
        s_paragraph(b, "error", error);
    s_radio_scale(b, name, 1, 5, selected, NULL);
    s_put(b, "<div class=\"hint\"><span>");
    s_put_escaped(b, t->scale_low);
    s_put(b, "</span><span>");
    s_put_escaped(b, t->scale_high);
    s_put(b, "</span></div>\n</fieldset>\n");
}

char *survey_page_form(survey_lang_t lang, const char *ticket_number,
                       const survey_answer_t *entered)
{
    return survey_page_form_with_optout(lang, ticket_number, entered, NULL);
}

char *survey_page_form_with_optout(survey_lang_t lang, const char *ticket_number,
                                   const survey_answer_t *entered, const char *optout_href)
{
    const page_text_t *t = s_text(lang);
    page_buf_t b = {0};
    int satisfaction = entered ? entered->satisfaction : 0;
    int recommend = entered ? entered->recommend : -1;

    s_head(&b, t, t->title);
    s_ticket(&b, t, ticket_number);
    s_paragraph(&b, NULL, t->intro);
    if (s_bad(entered, "form"))
        s_paragraph(&b, "error", t->err_form);
    s_put(&b, "<form method=\"post\" accept-charset=\"utf-8\">\n");

    s_put(&b, "<fieldset>\n<legend>");
    s_put_escaped(&b, t->q_satisfaction);
    s_put(&b, "</legend>\n");
    if (s_bad(entered, "satisfaction"))
        s_paragraph(&b, "error", t->err_satisfaction);
    s_radio_scale(&b, "satisfaction", 1, 5, satisfaction, t->satisfaction_labels);
    s_put(&b, "</fieldset>\n");

    s_put(&b, "<fieldset>\n<legend>");
    s_put_escaped(&b, t->q_recommend);
    s_put(&b, "</legend>\n");
    if (s_bad(entered, "recommend"))
        s_paragraph(&b, "error", t->err_recommend);
    s_radio_scale(&b, "recommend", 0, 10, recommend, NULL);
    s_put(&b, "<div class=\"hint\"><span>");
    s_put_escaped(&b, t->recommend_low);
    s_put(&b, "</span><span>");
    s_put_escaped(&b, t->recommend_high);
    s_put(&b, "</span></div>\n</fieldset>\n");
    s_five_scale(&b, t, entered, "speed", t->q_speed, t->err_speed, entered ? entered->speed : 0);
    s_five_scale(&b, t, entered, "professionalism", t->q_professionalism, t->err_professionalism,
                 entered ? entered->professionalism : 0);

    s_put(&b, "<label for=\"comment\">");
    s_put_escaped(&b, t->q_comment);
    s_put(&b, "</label>\n");
    if (s_bad(entered, "comment"))
        s_paragraph(&b, "error", t->err_comment);
    s_putf(&b, "<textarea id=\"comment\" name=\"comment\" rows=\"5\" maxlength=\"%d\">",
           SURVEY_COMMENT_MAX_CHARS);
    if (entered)
        s_put_escaped(&b, entered->comment);
    s_put(&b, "</textarea>\n<button type=\"submit\">");
    s_put_escaped(&b, t->submit);
    s_put(&b, "</button>\n</form>\n");
    if (optout_href) {
        s_put(&b, "<p class=\"optout\"><a href=\"");
        s_put_escaped(&b, optout_href);
        s_put(&b, "\">");
        s_put_escaped(&b, t->optout_link);
        s_put(&b, "</a></p>\n");
    }
    s_tail(&b);
    return s_finish(&b);
}

char *survey_page_optout_confirm(survey_lang_t lang)
{
    const page_text_t *t = s_text(lang);
    page_buf_t b = {0};
    s_head(&b, t, t->optout_title);
    s_paragraph(&b, NULL, t->optout_body);
    s_put(&b, "<form method=\"post\"><button type=\"submit\" name=\"optout\" value=\"1\">");
    s_put_escaped(&b, t->optout_button);
    s_put(&b, "</button></form>\n");
    s_tail(&b);
    return s_finish(&b);
}

char *survey_page_optout_done(survey_lang_t lang)
{
    const page_text_t *t = s_text(lang);
    return s_simple_page(lang, t->optout_done_title, NULL, t->optout_done_body, NULL);
}

char *survey_page_thanks(survey_lang_t lang, const char *ticket_number, int follow_up)
{
    const page_text_t *t = s_text(lang);
    return s_simple_page(lang, t->thanks_title, ticket_number, t->thanks_body,
                         follow_up ? t->follow_up : NULL);
}

char *survey_page_already_answered(survey_lang_t lang, const char *ticket_number,
                                   const survey_answer_t *recorded)
{
    const page_text_t *t = s_text(lang);
    page_buf_t b = {0};
    int satisfaction = recorded ? recorded->satisfaction : 0;
    int recommend = recorded ? recorded->recommend : -1;
    const char *comment = recorded ? recorded->comment : "";

    s_head(&b, t, t->answered_title);
    s_ticket(&b, t, ticket_number);
    s_paragraph(&b, NULL, t->answered_body);
    s_put(&b, "<dl>\n<dt>");
    s_put_escaped(&b, t->label_satisfaction);
    s_put(&b, "</dt>\n<dd>");
    if (satisfaction >= 1 && satisfaction <= 5) {
        s_putf(&b, "%d / 5 &middot; ", satisfaction);
        s_put_escaped(&b, t->satisfaction_labels[satisfaction - 1]);
    } else {
        s_put_escaped(&b, t->not_given);
    }
    s_put(&b, "</dd>\n<dt>");
    s_put_escaped(&b, t->label_recommend);
    s_put(&b, "</dt>\n<dd>");
    if (recommend >= 0 && recommend <= 10)
        s_putf(&b, "%d / 10", recommend);
    else
        s_put_escaped(&b, t->not_given);
    s_put(&b, "</dd>\n");
    const char *labels[2] = {t->label_speed, t->label_professionalism};
    int scores[2] = {recorded ? recorded->speed : 0, recorded ? recorded->professionalism : 0};
    for (int i = 0; i < 2; i++) {
        s_put(&b, "<dt>");
        s_put_escaped(&b, labels[i]);
        s_put(&b, "</dt>\n<dd>");
        if (scores[i] >= 1 && scores[i] <= 5)
            s_putf(&b, "%d / 5", scores[i]);
        else
            s_put_escaped(&b, t->not_given);
        s_put(&b, "</dd>\n");
    }
    s_put(&b, "<dt>");
    s_put_escaped(&b, t->label_comment);
    s_put(&b, "</dt>\n<dd class=\"comment\">");
    s_put_escaped(&b, *comment ? comment : t->no_comment);
    s_put(&b, "</dd>\n</dl>\n");
    s_tail(&b);
    return s_finish(&b);
}

char *survey_page_expired(survey_lang_t lang)
{
    const page_text_t *t = s_text(lang);
    return s_simple_page(lang, t->expired_title, NULL, t->expired_body, NULL);
}

char *survey_page_invalid(survey_lang_t lang)
{
    const page_text_t *t = s_text(lang);
    return s_simple_page(lang, t->invalid_title, NULL, t->invalid_body, NULL);
}

/* ------------------------------------------------------------ parsing */

/* Record the first error only: later fields are still parsed so the form
 * can be shown again with everything valid the customer entered. */
static void s_field_error(survey_answer_t *out, char *err, size_t errlen, const char *field,
                          const char *fmt, ...)
{
    va_list ap;
    if (out->bad_field)
        return;
    out->bad_field = field;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) in place ('+' is a space, %XX a byte).  Returns the
 * decoded length or -1 if a '%' is not followed by two hex digits. */
static long s_form_decode(char *s, size_t len)
{
    size_t i = 0, o = 0;
    while (i < len) {
        if (s[i] == '+') {
            s[o++] = ' ';
            i++;
        } else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = s_hex(s[i + 1]);
            lo = s_hex(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            s[o++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            s[o++] = s[i++];
        }
    }
    return (long)o;
}

/* A small whole number written as 1-2 plain digits, or -1. */
static int s_small_number(const char *s, size_t len)
{
    int v = 0;
    if (len == 0 || len > 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*
 * Check the comment and copy it into out: CRLF and lone CR become LF,
 * surrounding whitespace is trimmed, it must be valid UTF-8 with no control
 * characters except tab and LF, and at most SURVEY_COMMENT_MAX_CHARS code
 * points.  Returns 0 or -1 with the reason in *why.
 */
static int s_take_comment(const char *s, size_t len, char *dst, const char **why)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, chars = 0;

    while (len &&
           (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        unsigned cp;

        if (++chars > SURVEY_COMMENT_MAX_CHARS) {
            *why = "comment must be at most 2000 characters";
            return -1;
        }
        if (c == '\r') {
            dst[o++] = '\n';
            i += (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
                *why = "comment contains control characters";
                return -1;
            }
            dst[o++] = (char)c;
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            n = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            n = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            n = 3, cp = c & 0x07;
        else
            goto out_bad_utf8;
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (p[i + k] & 0xC0) != 0x80)
                goto out_bad_utf8;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto out_bad_utf8;
        if (cp >= 0x80 && cp <= 0x9F) {
            *why = "comment contains control characters";
            return -1;
        }
        memcpy(dst + o, p + i, n + 1);
        o += n + 1;
        i += n + 1;
    }
    dst[o] = '\0';
    return 0;

out_bad_utf8:
    *why = "comment is not valid UTF-8";
    return -1;
}

/* Apply one decoded field to the answer. */
#define ANSWER_FIELDS 5

static void s_apply_field(survey_answer_t *out, bool seen[ANSWER_FIELDS], const char *key,
                          size_t klen, const char *value, size_t vlen, char *err, size_t errlen)
{
    static const char *const names[ANSWER_FIELDS] = {"satisfaction", "recommend", "comment",
                                                     "speed", "professionalism"};
    int which = -1, v;
    const char *why;

    for (int k = 0; k < ANSWER_FIELDS; k++)
        if (klen == strlen(names[k]) && memcmp(key, names[k], klen) == 0)
            which = k;
    if (which < 0)
        return; /* unknown fields (a submit button's name, trackers) are ignored */
    if (seen[which]) {
        s_field_error(out, err, errlen, names[which], "%s given twice", names[which]);
        return;
    }
    seen[which] = true;
    switch (which) {
    case 0:
        if (vlen == 0)
            return; /* reported as missing at the end */
        v = s_small_number(value, vlen);
        if (v < 1 || v > 5)
            s_field_error(out, err, errlen, "satisfaction", "satisfaction must be 1..5");
        else
            out->satisfaction = v;
        return;
    case 1:
        if (vlen == 0)
            return; /* optional */
        v = s_small_number(value, vlen);
        if (v < 0 || v > 10)
            s_field_error(out, err, errlen, "recommend", "recommend must be 0..10");
        else
            out->recommend = v;
        return;
    case 3:
    case 4:
        if (vlen == 0)
            return; /* optional */
        v = s_small_number(value, vlen);
        if (v < 1 || v > 5)
            s_field_error(out, err, errlen, names[which], "%s must be 1..5", names[which]);
        else if (which == 3)
            out->speed = v;
        else
            out->professionalism = v;
        return;
    default:
        if (s_take_comment(value, vlen, out->comment, &why) < 0) {
            out->comment[0] = '\0';
            s_field_error(out, err, errlen, "comment", "%s", why);
        }
        return;
    }
}

int survey_answer_parse(const char *body, size_t len, survey_answer_t *out, char *err,
                        size_t errlen)
{
    bool seen[ANSWER_FIELDS] = {false};
    char *copy, *pair, *end;

    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return -1;
    out->satisfaction = 0;
    out->recommend = -1;
    out->speed = 0;
    out->professionalism = 0;
    out->comment[0] = '\0';
    out->bad_field = NULL;
    if (!body && len) {
        s_field_error(out, err, errlen, "form", "form body missing");
        return -1;
    }
    if (len > SURVEY_BODY_MAX_BYTES) {
        s_field_error(out, err, errlen, "form", "form body larger than %d bytes",
                      SURVEY_BODY_MAX_BYTES);
        return -1;
    }
    copy = malloc(len + 1);
    if (!copy) {
        s_field_error(out, err, errlen, "form", "out of memory");
        return -1;
    }
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';

    for (pair = copy, end = copy + len; pair < end;) {
        char *amp = memchr(pair, '&', (size_t)(end - pair));
        char *stop = amp ? amp : end;
        char *eq = memchr(pair, '=', (size_t)(stop - pair));
        char *value = eq ? eq + 1 : stop;
        long klen = s_form_decode(pair, (size_t)((eq ? eq : stop) - pair));
        long vlen = s_form_decode(value, (size_t)(stop - value));

        if (klen < 0 || vlen < 0)
            s_field_error(out, err, errlen, "form", "form is not correctly percent-encoded");
        else if (klen > 0)
            s_apply_field(out, seen, pair, (size_t)klen, value, (size_t)vlen, err, errlen);
        pair = stop + 1;
    }
    free(copy);
    if (!out->bad_field && out->satisfaction == 0)
        s_field_error(out, err, errlen, "satisfaction", "satisfaction is required");
    return out->bad_field ? -1 : 0;
}
