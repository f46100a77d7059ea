#!/usr/bin/env python3
"""Writes petrocs.json, the Grafana dashboard: one row per service and one for
the business. Edit the panels here and run `python3 deploy/grafana/make-dashboard.py`;
tests/integration/test_prometheus.py checks that every expression parses and
names only metrics the services export.

Gauges a service computes from its database (open tickets, clocks, queue depth,
satisfied share) are the same on every instance of that service: they are
aggregated with max, never sum — and a gauge split by labels (open tickets by
status, type and emergency level) takes the max over instances first, then the
sum over its labels: OPEN below.
"""
import json
import os

RATE = "$__rate_interval"


def OPEN(metric, by=""):
    """Sum over a labelled gauge's groups of the max over instances (or 0 when no
    group exists yet, so that a stat reads 0 rather than "No data")."""
    inner = f"max without (instance, pod) ({metric})"
    if by:
        return f"sum by ({by}) ({inner})"
    return f"sum({inner}) or vector(0)"
DS = {"type": "prometheus", "uid": "${datasource}"}


class Board:
    def __init__(self):
        self.panels = []
        self.y = 0
        self.next_id = 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def row(self, title):
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1
        self.x = 0

    def panel(self, title, targets, kind="timeseries", unit="short", w=6, h=7, desc=""):
        if self.x + w > 24:
            self.x = 0
            self.y += h
        p = {"type": kind, "title": title, "id": self._id(), "datasource": DS,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {},
             "targets": [{"refId": chr(ord("A") + i), "datasource": DS, "expr": expr,
                          "legendFormat": legend}
                         for i, (expr, legend) in enumerate(targets)]}
        if desc:
            p["description"] = desc
        if kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False},
                            "colorMode": "value", "graphMode": "area"}
        self.panels.append(p)
        self.x += w

    def end_row(self, h=7):
        self.y += h
        self.x = 0


def service_row(b, svc, extra):
    sel = f'job="petrocs",service="{svc}"'
    b.row(svc)
    b.panel("instances up", [(f"sum(up{{{sel}}})", "up")], kind="stat", w=3,
            desc="Instances answering /metrics.")
    b.panel("HTTP requests by status", [
        (f"sum by (status) (rate(cs_http_requests_total{{{sel}}}[{RATE}]))", "{{status}}")],
        unit="reqps", w=5)
    b.panel("HTTP latency p50 / p95", [
        (f"histogram_quantile(0.5, sum by (le) (rate(cs_http_request_seconds_bucket{{{sel}}}[{RATE}])))", "p50"),
        (f"histogram_quantile(0.95, sum by (le) (rate(cs_http_request_seconds_bucket{{{sel}}}[{RATE}])))", "p95")],
        unit="s", w=4)
    b.panel("events published / consumed", [
        (f"sum by (instance) (rate(cs_bus_published_total{{{sel}}}[{RATE}]))", "published {{instance}}"),
        (f"sum by (stream) (rate(cs_bus_consumed_total{{{sel}}}[{RATE}]))", "consumed {{stream}}")],
        unit="ops", w=4)
    b.panel("consumer lag by stream, outbox backlog", [
        (f"max by (stream) (cs_bus_consumer_lag{{{sel}}})", "lag {{stream}}"),
        (f"max by (instance) (cs_bus_outbox_backlog{{{sel}}})", "backlog {{instance}}")],
        w=4)
    b.panel("database errors / reconnects", [
        (f"sum(rate(cs_db_errors_total{{{sel}}}[{RATE}]))", "errors"),
        (f"sum(increase(cs_db_reconnects_total{{{sel}}}[{RATE}]))", "reconnects")],
        w=4)
    b.panel("instances ready", [(f"sum(cs_service_ready{{{sel}}})", "ready")], kind="stat", w=3,
            desc="Instances whose /readyz answers 200 (cs_service_ready); the reasons are in its body.")
    b.panel("uptime", [(f"time() - max by (instance) (process_start_time_seconds{{{sel}}})", "{{instance}}")],
            kind="stat", unit="s", w=3)
    b.panel("heartbeat age by stream read", [
        (f"max by (stream) (cs_bus_heartbeat_age_seconds{{{sel}}})", "{{stream}}")],
        unit="s", w=6, desc="Seconds since the last heartbeat heard from each stream read (one a second when all is well).")
    b.panel("database transaction p50 / p95, commit p95", [
        (f"histogram_quantile(0.5, sum by (le) (rate(cs_db_transaction_seconds_bucket{{{sel}}}[{RATE}])))", "transaction p50"),
        (f"histogram_quantile(0.95, sum by (le) (rate(cs_db_transaction_seconds_bucket{{{sel}}}[{RATE}])))", "transaction p95"),
        (f"histogram_quantile(0.95, sum by (le) (rate(cs_db_commit_seconds_bucket{{{sel}}}[{RATE}])))", "COMMIT p95")],
        unit="s", w=6)
    b.panel("database transactions by outcome", [
        (f"sum by (outcome) (rate(cs_db_transaction_seconds_count{{{sel}}}[{RATE}]))", "{{outcome}}")],
        unit="ops", w=6)
    b.x = 24  # the service's own panels start on the next line
    for title, targets, unit, kind in extra:
        b.panel(title, targets, unit=unit, kind=kind, w=6)
    b.end_row()


def main():
    b = Board()
    service_row(b, "intake", [
        ("tickets created by channel", [
            (f"sum by (channel) (rate(cs_intake_tickets_total[{RATE}]))", "{{channel}}")], "ops", "timeseries"),
        ("mail by outcome", [
            (f"sum by (outcome) (rate(cs_intake_mail_total[{RATE}]))", "{{outcome}}")], "ops", "timeseries"),
        ("mail rejected by reason", [
            (f'sum by (reason) (increase(cs_intake_mail_total{{outcome="rejected"}}[{RATE}]))', "{{reason}}")], "short", "timeseries"),
        ("bus messages rejected", [
            (f'sum by (reason) (increase(cs_bus_rejected_total{{service="intake"}}[{RATE}]))', "{{reason}}")], "short", "timeseries"),
        ("SMTP connections", [
            (f"sum by (result) (rate(cs_intake_smtp_connections_total[{RATE}]))", "{{result}}"),
            (f"sum(rate(cs_intake_smtp_timeouts_total[{RATE}]))", "timed out"),
            ("sum(cs_intake_smtp_connections_open)", "open now")], "short", "timeseries"),
        ("SMTP replies after DATA", [
            (f"sum by (result) (rate(cs_intake_smtp_messages_total[{RATE}]))", "{{result}}")], "ops", "timeseries"),
        ("SMTP refusals and errors", [
            (f"sum(increase(cs_intake_smtp_recipients_rejected_total[{RATE}]))", "recipients rejected"),
            (f"sum(increase(cs_intake_smtp_protocol_errors_total[{RATE}]))", "protocol errors")], "short", "timeseries"),
    ])
    service_row(b, "dispatch", [
        ("open / queued tickets", [
            (OPEN("cs_dispatch_open_tickets"), "open"),
            ("max(cs_dispatch_queued_tickets)", "waiting for an agent")], "short", "timeseries"),
        ("open tickets by status", [
            (OPEN("cs_dispatch_open_tickets", "status"), "{{status}}")], "short", "timeseries"),
        ("open emergencies by level", [
            (OPEN('cs_dispatch_open_tickets{emergency_level!="0"}', "emergency_level"), "level {{emergency_level}}")], "short", "timeseries"),
        ("tickets classified by type", [
            (f"sum by (type) (rate(cs_dispatch_tickets_total[{RATE}]))", "{{type}}")], "ops", "timeseries"),
        ("agent actions", [
            (f"sum by (action) (rate(cs_dispatch_actions_total[{RATE}]))", "{{action}}")], "ops", "timeseries"),
        ("escalations", [
            (f"sum(increase(cs_dispatch_escalations_total[{RATE}]))", "escalations")], "short", "timeseries"),
    ])
    service_row(b, "sla", [
        ("clocks by state", [("max by (state) (cs_sla_clocks)", "{{state}}")], "short", "timeseries"),
        ("clocks at risk / breached and open, by target", [
            ("max by (target) (cs_sla_at_risk_clocks)", "at risk {{target}}"),
            ("max by (target) (cs_sla_open_breached_clocks)", "breached {{target}}")], "short", "timeseries"),
        ("breaches by target", [
            (f"sum by (target) (increase(cs_sla_breaches_total[{RATE}]))", "{{target}}")], "short", "timeseries"),
        ("warnings by target", [
            (f"sum by (target) (increase(cs_sla_warnings_total[{RATE}]))", "{{target}}")], "short", "timeseries"),
    ])
    service_row(b, "complaint", [
        ("complaints open", [(OPEN("cs_complaint_open"), "open")], "short", "stat"),
        ("complaints open by status", [(OPEN("cs_complaint_open", "status"), "{{status}}")], "short", "timeseries"),
        ("acceptance overdue", [("max(cs_complaint_accept_overdue)", "overdue")], "short", "stat"),
        ("complaints opened", [
            (f"sum(increase(cs_complaint_opened_total[{RATE}]))", "opened")], "short", "timeseries"),
    ])
    service_row(b, "survey", [
        ("invitations by outcome", [
            (f"sum by (outcome) (increase(cs_survey_invitations_total[{RATE}]))", "{{outcome}}")], "short", "timeseries"),
        ("answers (low score or not)", [
            (f"sum by (low_score) (increase(cs_survey_answers_total[{RATE}]))", "low score {{low_score}}")], "short", "timeseries"),
        ("satisfied share (all time)", [("max(cs_survey_satisfied_share)", "satisfied")], "percentunit", "stat"),
        ("last 30 days: answers, satisfied", [
            ("max(cs_survey_answers_last_30d)", "answers"),
            ("max(cs_survey_satisfied_answers_last_30d)", "satisfied (4-5)")], "short", "timeseries"),
    ])
    service_row(b, "notify", [
        ("messages by status", [
            (f"sum by (status) (rate(cs_notify_messages_total[{RATE}]))", "{{status}}")], "ops", "timeseries"),
        ("messages by kind", [
            (f"sum by (kind) (rate(cs_notify_messages_total[{RATE}]))", "{{kind}}")], "ops", "timeseries"),
        ("queue depth", [("max(cs_notify_queue_depth)", "queued or deferred")], "short", "timeseries"),
    ])

    b.row("business")
    b.panel("tickets today by channel", [
        ("sum by (channel) (increase(cs_intake_tickets_total[1d]))", "{{channel}}")],
        kind="bargauge", w=6)
    b.panel("tickets today by service type", [
        ("sum by (type) (increase(cs_dispatch_tickets_total[1d]))", "{{type}}")],
        kind="bargauge", w=6)
    b.panel("open tickets", [(OPEN("cs_dispatch_open_tickets"), "open")], kind="stat", w=3)
    b.panel("complaints open", [(OPEN("cs_complaint_open"), "open")], kind="stat", w=3)
    b.panel("satisfied, last 30 days (target 90 %)", [
        ("max(cs_survey_satisfied_ratio_last_30d)", "satisfied")],
            kind="gauge", unit="percentunit", w=6,
            desc="Answers with satisfaction 4-5 over all answers of the last 30 days (empty without answers).")
    b.panel("open tickets by service type", [
        (OPEN("cs_dispatch_open_tickets", "service_type"), "{{service_type}}")],
        kind="bargauge", w=6)
    b.panel("emergency tickets open (not resolved)", [
        (OPEN('cs_dispatch_open_tickets{emergency_level!="0",status!="resolved"}'), "emergencies")],
        kind="stat", w=4)
    b.panel("clocks at risk now / breached and still open", [
        ("sum(max by (target) (cs_sla_at_risk_clocks))", "at risk"),
        ("sum(max by (target) (cs_sla_open_breached_clocks))", "breached, open")],
        kind="stat", w=6)
    b.panel("clocks warned and breached, last 24 h", [
        ("sum by (target) (increase(cs_sla_warnings_total[1d]))", "warned {{target}}"),
        ("sum by (target) (increase(cs_sla_breaches_total[1d]))", "breached {{target}}")],
        kind="bargauge", w=8)
    b.panel("commitments met vs breached (all time)", [
        ('max(cs_sla_clocks{state="met"}) / clamp_min(max(cs_sla_clocks{state="met"}) + max(cs_sla_clocks{state="breached"}), 1)', "met share")],
        kind="stat", unit="percentunit", w=4)
    b.panel("letters sent / failed per hour", [
        ('sum by (status) (increase(cs_notify_messages_total{status=~"sent|failed"}[1h]))', "{{status}}")],
        w=6)
    b.panel("survey answers per day", [
        ("sum by (low_score) (increase(cs_survey_answers_total[1d]))", "low score {{low_score}}")],
        w=6)
    b.end_row()

    board = {
        "title": "petrocs",
        "uid": "petrocs",
        "tags": ["petrocs"],
        "timezone": "browser",
        "schemaVersion": 38,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1}]},
        "annotations": {"list": []},
        "links": [],
        "panels": b.panels,
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "petrocs.json")
    with open(out, "w") as f:
        json.dump(board, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
