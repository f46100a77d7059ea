/*
 * invitation.c - the never-rules for survey invitations (see invitation.h).
 *
 * The address check is deliberately modest: one '@', a local part and a
 * domain with a dot, printable ASCII or UTF-8 only, no spaces, no angle
 * brackets, no commas or semicolons (which would let one "address" name
 * several recipients in a mail header), at most 254 bytes.  Robot mailboxes
 * are recognised by their local part with case, separators ('.', '-', '_')
 * and any "+tag" ignored, so "No-Reply+alerts", "do_not_reply" and
 * "MAILER-DAEMON" are all caught.
 */
#include "invitation.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const s_reasons[SURVEY_DECISION_COUNT] = {
    [SURVEY_INVITE] = "invite",
    [SURVEY_SKIP_NO_EMAIL] = "no_email",
    [SURVEY_SKIP_INVALID_EMAIL] = "invalid_email",
    [SURVEY_SKIP_NO_REPLY] = "no_reply_address",
    [SURVEY_SKIP_MAILER_DAEMON] = "mailer_daemon",
    [SURVEY_SKIP_POSTMASTER] = "postmaster",
    [SURVEY_SKIP_NO_CONTACT] = "no_contact",
    [SURVEY_SKIP_TERMINATED] = "terminated",
    [SURVEY_SKIP_MERGED] = "merged",
    [SURVEY_SKIP_SPAM] = "spam",
    [SURVEY_SKIP_OPTED_OUT] = "opted_out",
    [SURVEY_SKIP_RECENTLY] = "surveyed_recently",
};

const char *survey_decision_reason(survey_decision_t decision)
{
    if ((int)decision < 0 || decision >= SURVEY_DECISION_COUNT)
        return "unknown";
    return s_reasons[decision];
}

/* Is c allowed anywhere in an address we will put into a mail header? */
static int s_address_char(unsigned char c)
{
    if (c >= 0x80)
        return 1; /* UTF-8 (internationalised addresses) */
    if (c <= 0x20 || c == 0x7F)
        return 0;
    return strchr("<>()[]\\,;:\"", c) == NULL;
}

/* The local part folded for comparison: lower case, without '.', '-', '_'
   and without a "+tag".  Returns 0, or -1 if it does not fit. */
static int s_fold_local(const char *local, size_t n, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < n && local[i] != '+'; i++) {
        char c = local[i];
        if (c == '.' || c == '-' || c == '_')
            continue;
        if (j + 1 >= size)
            return -1;
        out[j++] = (char)tolower((unsigned char)c);
    }
    out[j] = '\0';
    return 0;
}

static int s_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static survey_decision_t s_robot(const char *local, size_t n)
{
    char folded[80];
    if (s_fold_local(local, n, folded, sizeof(folded)) < 0)
        return SURVEY_INVITE; /* a long local part is no robot name we know */
    if (s_starts_with(folded, "noreply") || s_starts_with(folded, "donotreply") ||
        s_starts_with(folded, "dontreply"))
        return SURVEY_SKIP_NO_REPLY;
    if (strcmp(folded, "mailerdaemon") == 0)
        return SURVEY_SKIP_MAILER_DAEMON;
    if (strcmp(folded, "postmaster") == 0)
        return SURVEY_SKIP_POSTMASTER;
    return SURVEY_INVITE;
}

survey_decision_t survey_invitation_decide(const char *email)
{
    size_t n = email ? strlen(email) : 0;
    if (n == 0)
        return SURVEY_SKIP_NO_EMAIL;
    if (n > SURVEY_EMAIL_MAX)
        return SURVEY_SKIP_INVALID_EMAIL;
    for (size_t i = 0; i < n; i++)
        if (!s_address_char((unsigned char)email[i]))
            return SURVEY_SKIP_INVALID_EMAIL;
    const char *at = strchr(email, '@');
    if (!at || at == email || strchr(at + 1, '@'))
        return SURVEY_SKIP_INVALID_EMAIL;
    const char *domain = at + 1;
    size_t dlen = strlen(domain);
    if (dlen < 3 || !strchr(domain, '.') || domain[0] == '.' || domain[dlen - 1] == '.' ||
        strstr(domain, ".."))
        return SURVEY_SKIP_INVALID_EMAIL;
    return s_robot(email, (size_t)(at - email));
}

int64_t survey_invitation_expiry_s(int64_t sent_at_ms, int days)
{
    return sent_at_ms / 1000 + (int64_t)days * 86400;
}

int survey_phone_digits(const char *phone, char *out, size_t size)
{
    size_t n = 0;
    if (!phone)
        return -1;
    for (const char *p = phone; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n >= SURVEY_PHONE_DIGITS_MAX || n + 1 >= size)
                return -1;
            out[n++] = *p;
        } else if (*p == '+') {
            if (p != phone)
                return -1;
        } else if (!strchr(" -.()", *p)) {
            return -1;
        }
    }
    if (n < 7)
        return -1;
    out[n] = '\0';
    return 0;
}

survey_decision_t survey_contact_decide(const char *email, const char *phone,
                                        survey_channel_t *channel)
{
    char digits[SURVEY_PHONE_DIGITS_MAX + 1];
    survey_decision_t d = survey_invitation_decide(email);
    *channel = SURVEY_CHANNEL_NONE;
    if (d == SURVEY_INVITE) {
        *channel = SURVEY_CHANNEL_EMAIL;
        return d;
    }
    if (d != SURVEY_SKIP_NO_EMAIL && d != SURVEY_SKIP_INVALID_EMAIL)
        return d; /* a robot's address: nobody to ask */
    if (survey_phone_digits(phone, digits, sizeof(digits)) == 0) {
        *channel = SURVEY_CHANNEL_SMS;
        return SURVEY_INVITE;
    }
    return d == SURVEY_SKIP_NO_EMAIL ? SURVEY_SKIP_NO_CONTACT : d;
}

/* Does text begin with word (ASCII letters compared without case)? */
static int s_begins(const char *text, const char *word)
{
    while (*text == ' ' || *text == '\t')
        text++;
    return strncasecmp(text, word, strlen(word)) == 0;
}

survey_decision_t survey_ticket_decide(const char *status, const char *reason)
{
    static const char *const merged[] = {"merged", "duplicate", "合并", "重复"};
    static const char *const spam[] = {"spam", "垃圾"};
    status = status ? status : "";
    reason = reason ? reason : "";
    if (strcasecmp(status, "terminated") == 0)
        return SURVEY_SKIP_TERMINATED;
    if (strcasecmp(status, "merged") == 0)
        return SURVEY_SKIP_MERGED;
    if (strcasecmp(status, "spam") == 0)
        return SURVEY_SKIP_SPAM;
    for (size_t i = 0; i < sizeof(merged) / sizeof(*merged); i++)
        if (s_begins(reason, merged[i]))
            return SURVEY_SKIP_MERGED;
    for (size_t i = 0; i < sizeof(spam) / sizeof(*spam); i++)
        if (s_begins(reason, spam[i]))
            return SURVEY_SKIP_SPAM;
    return SURVEY_INVITE;
}

int survey_contact_key(survey_channel_t channel, const char *email, const char *phone, char *out,
                       size_t size)
{
    char digits[SURVEY_PHONE_DIGITS_MAX + 1];
    if (channel == SURVEY_CHANNEL_EMAIL && email && strlen(email) <= SURVEY_EMAIL_MAX &&
        size > strlen(email) + 6) {
        size_t j = (size_t)snprintf(out, size, "email:");
        for (const char *p = email; *p; p++)
            out[j++] = (char)tolower((unsigned char)*p);
        out[j] = '\0';
        return 0;
    }
    if (channel == SURVEY_CHANNEL_SMS && survey_phone_digits(phone, digits, sizeof(digits)) == 0 &&
        (size_t)snprintf(out, size, "phone:%s", digits) < size)
        return 0;
    return -1;
}

const char *survey_channel_name(survey_channel_t channel)
{
    return channel == SURVEY_CHANNEL_EMAIL ? "email" : channel == SURVEY_CHANNEL_SMS ? "sms" : "";
}
