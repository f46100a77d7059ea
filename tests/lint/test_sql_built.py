"""SQL goes to PostgreSQL through parameters, never pasted together from values.

DESIGN.md §5: "All SQL goes through parameters, never string pasting." This
test reads every C file of petrocs (common/, services/, tools/) and finds
each place where a statement is built at run time — a printf-style call whose
format holds SQL — and each statement handed to libpq or cs_db that is not a
string literal. A built statement passes only when

- no value is pasted inside quotes ('%s' — the classic injection), and
- every argument pasted into it is in ALLOWED below: a fixed column list, a
  name taken from a table of fixed names, a number formatted by the code —
  each with the reason it cannot carry request text.

A new built statement therefore fails here until someone reads it and adds
its arguments with a reason; a statement whose argument changes to something
unlisted fails too.
"""
import os
import re
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIRS = ["common", "services", "tools"]

# (file, argument expression) -> why it cannot carry outside text.
ALLOWED = {
    ("services/sla/clock_store.c", "SLA_STORE_COLUMNS"): "a constant column list",
    ("services/sla/api.c", "parts[k]"): "one of three literal WHERE fragments in a static table",
    ("services/intake/imap_poll.c", "adv->uid"): "an IMAP command (UID FETCH), not SQL: an integer",
    ("services/intake/imap_poll.c", "box"): "an IMAP command (SELECT mailbox), not SQL",
    ("services/sla/api.c", "SLA_STORE_COLUMNS"): "a constant column list",
    ("services/sla/policy_api.c", "SLA_STORE_COLUMNS"): "a constant column list",
    ("services/sla/report.c", "run->params->column"):
        "taken from s_groupings, a fixed table of column names, by matching the by= word",
    ("services/complaint/analysis.c", "dim"):
        "one of s_dims, the fixed dimensions (category, scope, root_cause), never request text",
    ("services/sla/clock_store.c", "conflict"): "one of two literal ON CONFLICT clauses",
    ("services/sla/report.c", "SLA_REPORT_FETCH"): "an integer constant",
    ("services/survey/api.c", "expr ? expr : \"''\""):
        "expr is one of s_groups' SQL expressions, chosen by matching the by= word",
    ("services/complaint/api.c", "s_select"): "built once at start from a fixed field table",
    ("common/cs_bus.c", "self->relay_batch"): "an integer from CS_BUS_RELAY_BATCH, checked",
}

SQL_WORDS = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|DECLARE|"
                       r"FETCH|CREATE|ALTER|DROP|WITH\s+\w+\s+AS|WHERE|FROM)\b")
PRINTF = re.compile(r"\b(snprintf|sprintf|asprintf|g_strdup_printf|vsnprintf)\s*\(")
DB_CALL = re.compile(r"\b(cs_db_exec|cs_db_cmd|cs_db_exec_bin|cs_db_cmd_bin|PQexec|"
                     r"PQexecParams|PQprepare|PQsendQuery|PQsendQueryParams)\s*\(")


def sources():
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for name in files:
                if name.endswith(".c"):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, ROOT), open(path, encoding="utf-8").read()


def strip_comments(text):
    """text with its comments blanked (same length, lines kept), string and
    character literals left alone ("tcp://…" is no comment)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_args(text, start):
    """The top-level arguments of the call whose '(' is at text[start]."""
    depth, i, args, cur, in_str = 0, start, [], [], None
    while i < len(text):
        c = text[i]
        if in_str:
            cur.append(c)
            if c == "\\":
                cur.append(text[i + 1])
                i += 1
            elif c == in_str:
                in_str = None
        elif c in "\"'":
            in_str = c
            cur.append(c)
        elif c in "([{":
            depth += 1
            if depth > 1:
                cur.append(c)
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            cur.append(c)
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    raise ValueError("unbalanced call")


def literal_text(expr):
    """The text of a compile-time constant statement — adjacent string literals and
    upper-case macros (themselves literals: the compiler only accepts them next to
    literals), or a ternary choosing between such — or None otherwise."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    rest = re.sub(r'"((?:[^"\\]|\\.)*)"', " ", expr)
    if "?" in expr:
        rest = re.sub(r"^[^?]*\?", "", rest).replace(":", " ")
    rest = re.sub(r"\b[A-Z][A-Z0-9_]*\b|\bPRI[diouxX](8|16|32|64|MAX|PTR)\b|[\s()]", "", rest)
    return "".join(parts) if parts and not rest else None


def static_literal(code, name):
    """Is name a file-level constant statement (static const char …name… = literal;)?"""
    m = re.search(r"static\s+const\s+char\s*(\*\s*(const\s+)?)?" + re.escape(name) +
                  r"\s*(\[\s*\])?\s*=\s*([^;]*);", code)
    return bool(m) and literal_text(m.group(4)) is not None


def norm(expr):
    return re.sub(r"\s+", " ", expr).strip()


def scan_built(path, code, problems, used):
    """Check every printf-style call of code that builds SQL; the count checked."""
    seen = 0
    for m in PRINTF.finditer(code):
        args = call_args(code, m.end() - 1)
        fmt_index = {"snprintf": 2, "vsnprintf": 2, "sprintf": 1, "asprintf": 1,
                     "g_strdup_printf": 0}[m.group(1)]
        if len(args) <= fmt_index:
            continue
        fmt = literal_text(args[fmt_index])
        if fmt is None or not SQL_WORDS.search(fmt):
            continue
        seen += 1
        line = code.count("\n", 0, m.start()) + 1
        if re.search(r"'%[-0-9.]*[a-z]", fmt):
            problems.append(f"{path}:{line}: a value pasted inside quotes: {fmt[:80]}")
        for arg in args[fmt_index + 1:]:
            if literal_text(arg) is not None:
                continue  # a literal, or a choice between literals
            used.add((path, norm(arg)))
            if (path, norm(arg)) not in ALLOWED:
                problems.append(f"{path}:{line}: pasted argument not reviewed: {norm(arg)}"
                                f" (in: {fmt[:70]}…)")
    return seen


class SqlBuiltTest(unittest.TestCase):
    def test_built_statements_paste_only_what_is_allowed(self):
        problems, used, seen = [], set(), 0
        for path, text in sources():
            seen += scan_built(path, strip_comments(text), problems, used)
        print(f"built statements checked: {seen}")
        problems += [f"{p}: ALLOWED names {a!r}, which no built statement pastes any more"
                     for p, a in sorted(set(ALLOWED) - used)]
        self.assertGreater(seen, 5, "the scan found no built statement: it is broken")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_the_scan_catches_pasted_values(self):
        """The checker itself: what it must refuse, and what it must let through."""
        bad = ('''snprintf(sql, sizeof(sql), "SELECT * FROM t WHERE name = '%s'", name);'''
               '''snprintf(q, sizeof(q), "DELETE FROM t WHERE id = %s", req_id);'''
               '''char *s = g_strdup_printf("UPDATE t SET a = 1 WHERE b = %d", n);''')
        problems = []
        self.assertEqual(scan_built("sample.c", strip_comments(bad), problems, set()), 3)
        self.assertEqual(len([p for p in problems if "inside quotes" in p]), 1, problems)
        self.assertEqual(len([p for p in problems if "not reviewed" in p]), 3, problems)
        fine = ('''snprintf(m, sizeof(m), "cannot read %s from %s", what, where);'''
                '''// snprintf(sql, 9, "SELECT %s", x);\n'''
                '''snprintf(sql, sizeof(sql), "SELECT a FROM t WHERE %s", k ? "x = $1" : "y = $1");''')
        problems = []
        self.assertEqual(scan_built("sample.c", strip_comments(fine), problems, set()), 1)
        self.assertEqual(problems, [])

    def test_statements_passed_as_variables_are_built_or_prepared_names(self):
        """A statement that is not a literal must be a local buffer built above (checked
        by the test before) or a prepared statement's name — never a parameter that
        could come from a caller's input. Counted, and unknown shapes listed."""
        problems, literal, variable = [], 0, 0
        for path, text in sources():
            code = strip_comments(text)
            for m in DB_CALL.finditer(code):
                line_start = code.rfind("\n", 0, m.start()) + 1
                if re.match(r"\s*(int|PGresult|int64_t|static|const|void|char)\b[^;=]*$",
                            code[line_start:m.start()]):
                    continue  # a declaration or definition, not a call
                args = call_args(code, m.end() - 1)
                if len(args) < 2:
                    continue
                sql = args[1]
                if literal_text(sql) is not None:
                    literal += 1
                    continue
                variable += 1
                name = norm(sql)
                if static_literal(code, name):
                    continue
                if name in ("sql", "self->relay_sql", "fetch", "stmt", "q", "query", "name"):
                    continue
                if path.startswith("common/cs_db.c"):
                    continue  # the wrappers themselves pass their caller's statement on
                problems.append(f"{path}:{code.count(chr(10), 0, m.start()) + 1}:"
                                f" statement from an expression not checked here: {name}")
        print(f"statements: {literal} literal, {variable} built or named")
        self.assertGreater(literal, 50)
        self.assertEqual(problems, [], "\n".join(problems))


if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
        unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    failed = len(result.failures) + len(result.errors)
    print(f"RESULT {result.testsRun - failed} passed, {failed} failed, 0 skipped")
    sys.exit(1 if failed else 0)
