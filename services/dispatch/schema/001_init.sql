-- dispatch — the ticket lifecycle authority (DESIGN.md §2).
--
-- teams:          one per service type and region; a ticket belongs to the
--                 team of its service type in the region of its agent.
-- agents:         the service desk's people: skills (service types they may
--                 take), capacity (open tickets at once) and presence.
-- tickets:        one row per ticket, keyed by intake's ticket_id (events
--                 carrying it are applied at most once).
-- ticket_history: every status change and agent action: who, when, why.
-- escalations / customer_replies: business keys that make the handlers of
--                 sla.breached and intake.ticket.customer_replied idempotent.

CREATE TABLE teams (
    code          text PRIMARY KEY,
    name          text NOT NULL,            -- as the desk calls it (zh-CN)
    name_en       text NOT NULL,
    service_type  text NOT NULL,
    region        text NOT NULL,            -- east 华东, north 华北
    UNIQUE (service_type, region)
);

CREATE TABLE agents (
    login             text PRIMARY KEY,     -- "wang.lei"
    name              text NOT NULL,
    region            text NOT NULL,
    skills            text[] NOT NULL,      -- service type codes
    capacity          integer NOT NULL CHECK (capacity BETWEEN 0 AND 1000),
    presence          text NOT NULL DEFAULT 'offline'
                      CHECK (presence IN ('online', 'away', 'offline')),
    active            boolean NOT NULL DEFAULT true,
    last_assigned_at  timestamptz,          -- round-robin among equally loaded agents
    assigned_total    bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    ticket_id              uuid PRIMARY KEY,
    number                 text NOT NULL UNIQUE,
    channel                text NOT NULL,
    received_at            timestamptz NOT NULL,
    customer_id            text NOT NULL DEFAULT '',
    customer_name          text NOT NULL DEFAULT '',
    customer_email         text NOT NULL DEFAULT '',
    customer_phone         text NOT NULL DEFAULT '',
    customer_company       text NOT NULL DEFAULT '',
    tier                   text NOT NULL DEFAULT '',
    language               text NOT NULL DEFAULT 'zh-CN',
    subject                text NOT NULL DEFAULT '',
    description            text NOT NULL DEFAULT '',
    message_id             text NOT NULL DEFAULT '',
    requested_type         text NOT NULL DEFAULT '',
    service_type           text NOT NULL,
    urgency                text NOT NULL,
    impact                 text NOT NULL,
    priority               text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    emergency_level        integer NOT NULL DEFAULT 0 CHECK (emergency_level BETWEEN 0 AND 3),
    rule_id                text NOT NULL DEFAULT '',
    rules_version          integer NOT NULL DEFAULT 0,
    team                   text REFERENCES teams (code),
    assignee               text REFERENCES agents (login),
    owner                  text REFERENCES agents (login),  -- first-contact owner, never changes
    status                 text NOT NULL CHECK (status IN ('new', 'accepted', 'queued',
                               'assigned', 'in_progress', 'pending_customer', 'resolved',
                               'closed', 'reopened', 'terminated')),
    escalation_level       integer NOT NULL DEFAULT 0,
    first_response_minutes integer NOT NULL,
    resolution_minutes     integer NOT NULL,
    expected_start_at      timestamptz NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    first_responded_at     timestamptz,
    resolved_at            timestamptz,
    closed_at              timestamptz
);
CREATE INDEX tickets_status ON tickets (status, priority, received_at);
CREATE INDEX tickets_assignee_open ON tickets (assignee)
    WHERE status IN ('assigned', 'in_progress', 'pending_customer', 'reopened');
CREATE INDEX tickets_received ON tickets (received_at DESC);

CREATE TABLE ticket_history (
    id           bigserial PRIMARY KEY,
    ticket_id    uuid NOT NULL REFERENCES tickets (ticket_id),
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,             -- agent login or "system"
    action       text NOT NULL,             -- accept, assign, queue, respond, resolve, ...
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    reason       text NOT NULL DEFAULT '',  -- why
    message      text NOT NULL DEFAULT ''   -- what the customer was told, if anything
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

CREATE TABLE escalations (
    ticket_id        uuid NOT NULL REFERENCES tickets (ticket_id),
    target           text NOT NULL,         -- first_response, resolution
    escalation_level integer NOT NULL,
    clock_id         text NOT NULL DEFAULT '',
    at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, target, escalation_level)
);

CREATE TABLE customer_replies (
    ticket_id    uuid NOT NULL REFERENCES tickets (ticket_id),
    reply_key    text NOT NULL,             -- Message-ID, else the received time
    received_at  timestamptz NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, reply_key)
);

-- ---- seed: the service desk ----------------------------------------------------------
INSERT INTO teams (code, name, name_en, service_type, region) VALUES
 ('eqm-east', '设备维保组（华东）',     'Equipment maintenance (East)',      'equipment_maintenance',    'east'),
 ('eqm-north','设备维保组（华北）',     'Equipment maintenance (North)',     'equipment_maintenance',    'north'),
 ('pro-east', '工艺优化组（华东）',     'Process optimisation (East)',       'process_optimisation',     'east'),
 ('pro-north','工艺优化组（华北）',     'Process optimisation (North)',      'process_optimisation',     'north'),
 ('saf-east', '安全检查组（华东）',     'Safety inspection (East)',          'safety_inspection',        'east'),
 ('saf-north','安全检查组（华北）',     'Safety inspection (North)',         'safety_inspection',        'north'),
 ('env-east', '环保合规组（华东）',     'Environmental compliance (East)',   'environmental_compliance', 'east'),
 ('env-north','环保合规组（华北）',     'Environmental compliance (North)',  'environmental_compliance', 'north'),
 ('tec-east', '技术咨询组（华东）',     'Technical consulting (East)',       'technical_consulting',     'east'),
 ('tec-north','技术咨询组（华北）',     'Technical consulting (North)',      'technical_consulting',     'north'),
 ('trn-east', '培训服务组（华东）',     'Training (East)',                   'training',                 'east'),
 ('trn-north','培训服务组（华北）',     'Training (North)',                  'training',                 'north'),
 ('dat-east', '数据监测组（华东）',     'Data monitoring (East)',            'data_monitoring',          'east'),
 ('dat-north','数据监测组（华北）',     'Data monitoring (North)',           'data_monitoring',          'north'),
 ('sup-east', '产品供应组（华东）',     'Product supply (East)',             'product_supply',           'east'),
 ('sup-north','产品供应组（华北）',     'Product supply (North)',            'product_supply',           'north'),
 ('cmp-east', '客户关系与投诉组（华东）', 'Customer relations & complaints (East)',  'complaint',  'east'),
 ('cmp-north','客户关系与投诉组（华北）', 'Customer relations & complaints (North)', 'complaint',  'north');

INSERT INTO agents (login, name, region, skills, capacity, presence) VALUES
 ('wang.lei',    '王磊',   'east',  '{equipment_maintenance,safety_inspection}',              18,  'online'),
 ('li.na',       '李娜',   'east',  '{technical_consulting,process_optimisation,training}',   24,  'online'),
 ('zhang.wei',   '张伟',   'north', '{equipment_maintenance,data_monitoring}',                18,  'online'),
 ('liu.yang',    '刘洋',   'north', '{safety_inspection,environmental_compliance}',           15,  'online'),
 ('chen.jing',   '陈静',   'east',  '{complaint,technical_consulting}',                       24,  'online'),
 ('yang.fan',    '杨帆',   'north', '{process_optimisation,technical_consulting}',            18,  'online'),
 ('zhao.min',    '赵敏',   'east',  '{environmental_compliance,data_monitoring}',             18,  'online'),
 ('huang.tao',   '黄涛',   'north', '{product_supply,technical_consulting}',                  30, 'online'),
 ('zhou.qian',   '周倩',   'east',  '{product_supply,complaint}',                             24,  'online'),
 ('wu.haoran',   '吴浩然', 'north', '{training,safety_inspection}',                           12,  'away'),
 ('xu.li',       '徐丽',   'east',  '{complaint}',                                            18,  'online'),
 ('sun.qiang',   '孙强',   'north', '{equipment_maintenance,process_optimisation}',           15,  'offline');
